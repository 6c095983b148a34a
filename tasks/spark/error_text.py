"""Short, readable text of a Spark error, for messages that name what is wrong."""

from __future__ import annotations

MAX_CHARS = 800


def spark_error_text(error: BaseException) -> str:
    """The root cause of a JVM error (it names the file, the column, the scheme), else line one.

    A Py4J error's own text is "An error occurred while calling o123.collectToPython"
    plus a Java stack trace; the cause chain holds what a reader needs.
    """
    cause = getattr(error, "java_exception", None)
    message = None
    broken_file = None  # a root cause such as "footer is too large" does not name its file
    while cause is not None:
        text = cause.getMessage()
        if text:
            message = str(text)
            if broken_file is None and "while reading file" in message:
                broken_file = message.strip().splitlines()[0]
        cause = cause.getCause()
    if message is not None and broken_file is not None and broken_file != message.strip():
        message = f"{broken_file} {message}"
    if message is None:
        text = str(error).strip()
        message = text.splitlines()[0] if text else type(error).__name__
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return "; ".join(lines)[:MAX_CHARS]
