"""The one error the emulator raises, shaped as Salesforce reports it over REST.

Salesforce answers a failed call with an HTTP status and a body
``[{"errorCode": "...", "message": "..."}]``; :class:`SalesforceError` carries exactly those three
things so the server can write the response without knowing which layer failed. Query errors are
located the way Salesforce locates them (the query line, a caret, ``ERROR at Row:r:Column:c``)
because clients such as simple-salesforce show that text to the user.
"""

from __future__ import annotations

# The tail Salesforce appends to every "unknown name" error.
REFERENCE_HINT = "Please reference your WSDL or the describe call for the appropriate names."


class SalesforceError(Exception):
    """An error Salesforce reports as [{"errorCode": ..., "message": ...}] with an HTTP status."""

    def __init__(self, error_code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.status = status

    def body(self) -> list[dict[str, str]]:
        """The JSON body Salesforce sends with this error."""
        return [{"errorCode": self.error_code, "message": self.message}]


def located(soql: str, line: int, column: int, text: str) -> str:
    """A query error message as Salesforce writes it: the line, a caret under the column, text."""
    lines = soql.split("\n")
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    return f"\n{source}\n{' ' * (column - 1)}^\nERROR at Row:{line}:Column:{column}\n{text}"


def query_error(code: str, soql: str, line: int, column: int, text: str) -> SalesforceError:
    """A located query error (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE), always HTTP 400."""
    return SalesforceError(code, located(soql, line, column, text), 400)


def no_such_column(field: str, entity: str) -> str:
    """Salesforce's text for an unknown field in a query."""
    return (
        f"No such column '{field}' on entity '{entity}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. " + REFERENCE_HINT
    )


def unsupported_object(name: str) -> str:
    """Salesforce's text for an unknown object in FROM."""
    return (
        f"sObject type '{name}' is not supported. If you are attempting to use a custom object, "
        "be sure to append the '__c' after the entity name. " + REFERENCE_HINT
    )


def unknown_relationship(name: str, where: str) -> str:
    """Salesforce's text for an unknown relationship; ``where`` is "field path" or "FROM part"."""
    place = "in field path" if where == "field path" else "in FROM part of query call"
    return (
        f"Didn't understand relationship '{name}' {place}. If you are attempting to use a custom "
        "relationship, be sure to append the '__r' after the custom relationship name. "
        + REFERENCE_HINT
    )


def not_found() -> SalesforceError:
    """Salesforce's 404 for an unknown object or record in the sobjects resource."""
    return SalesforceError("NOT_FOUND", "The requested resource does not exist", 404)
