"""The engine's errors. Each carries a stable ``code`` and its parameters so the UI can
show the message in the user's language; ``str(error)`` is the English message."""

from __future__ import annotations


class RagError(Exception):
    code = "error"

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


class DocumentError(RagError):
    """A file could not be turned into text."""

    code = "document_error"


class UnsupportedFileError(DocumentError):
    code = "unsupported"


class EmptyFileError(DocumentError):
    code = "empty"


class EncryptedFileError(DocumentError):
    code = "encrypted"


class CorruptFileError(DocumentError):
    code = "corrupt"


class FileTooLargeError(DocumentError):
    code = "too_large"


class NoTextError(DocumentError):
    code = "no_text"


class UnknownEncodingError(DocumentError):
    """Text that is not UTF-8 and whose encoding cannot be told for sure."""

    code = "encoding"


class XfaFormError(DocumentError):
    """A PDF whose content is an XFA form: no page text to read."""

    code = "xfa_form"


class OcrFoundNothingError(NoTextError):
    """No text layer, and OCR read nothing on the pages either."""

    code = "no_text_ocr"


class ParseTimeoutError(DocumentError):
    code = "timeout"


class DocumentNotFoundError(RagError):
    code = "not_found"


class EmbedderMismatchError(RagError):
    """The library was indexed by another embedder; rebuild it to use this one."""

    code = "embedder_mismatch"


class ModelNotFoundError(RagError):
    code = "model_not_found"


class ModelLoadError(RagError):
    code = "model_load"


class InvalidNameError(RagError):
    code = "invalid_name"


class DownloadError(RagError):
    """A model download failed; nothing was added to the models folder."""

    code = "download_failed"


class OfflineError(DownloadError):
    code = "offline"


class ChecksumMismatchError(DownloadError):
    code = "checksum"


class DiskSpaceError(DownloadError):
    code = "disk_space"


class InvalidSourceError(DownloadError):
    code = "invalid_source"


class InvisibleNameError(InvalidNameError):
    """A file name made only of invisible characters (zero-width, blank letters)."""

    code = "invisible_name"


class StoreUnavailableError(RagError):
    """The database holding the libraries cannot be reached."""

    code = "store_unavailable"


class ModelServerError(RagError):
    """The model server is down, timed out, or refused the request."""

    code = "model_server"


class AuthError(RagError):
    """Accounts: a login, registration or password change was refused."""

    code = "auth"


class InvalidLoginError(AuthError):
    """Wrong user name or password (never says which)."""

    code = "invalid_login"


class TooManyAttemptsError(AuthError):
    code = "too_many_attempts"


class WeakPasswordError(AuthError):
    code = "weak_password"


class UserExistsError(AuthError):
    code = "user_exists"


class InvalidUserNameError(AuthError):
    code = "invalid_user_name"


class UserNotFoundError(AuthError):
    code = "user_not_found"


class RegistrationClosedError(AuthError):
    code = "registration_closed"


class InvalidInviteError(AuthError):
    code = "invalid_invite"


class LastAdminError(AuthError):
    code = "last_admin"


class GenerationError(RagError):
    """The model failed while answering."""

    code = "generation"


class ContextOverflowError(GenerationError):
    """A prompt does not fit the model's context window even after fitting."""

    code = "context_overflow"


class QuestionTooLongError(RagError):
    code = "question_too_long"
