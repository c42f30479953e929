"""Local authorization data: the OCPP local list (SQLite + mmap'ed index), the
authorization cache, the negative cache, SendLocalList validation and application.

The decision rules themselves are pure and live in ``firmware.core.authorization``.
"""

from .ports import StoreAuthorization
from .schema import AuthSchemaError, migrate
from .store import AuthorizationStore
from .validate import SendLocalListFormatError, validate_send_local_list

__all__ = ["AuthSchemaError", "AuthorizationStore", "SendLocalListFormatError",
           "StoreAuthorization", "migrate",
           "validate_send_local_list"]
