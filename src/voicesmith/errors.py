"""Every error voicesmith raises on bad input, in one place.

Each class carries the Amazon Polly error type it corresponds to (``polly_type``) and the HTTP status
that Polly answers it with (``status``), so the Polly front end maps them one to one and the OpenAI
front end and the CLI map them by status. The message always says what is wrong and what to fix.
"""

from __future__ import annotations


class VoicesmithError(Exception):
    """Base of all user-facing errors."""

    polly_type = "ValidationException"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(VoicesmithError):
    """A parameter has a value that is not allowed."""


class DatasetError(ValidationError):
    """A training dataset is missing, has an unknown layout, or has malformed metadata.

    The message names the file (and the line, where there is one) and what to fix.
    """

    def __init__(self, message: str, path: object | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class VoiceNotFoundError(VoicesmithError):
    """No voice with that id in the catalog (Polly answers an unknown VoiceId with a validation error)."""


class InvalidVoiceError(VoicesmithError):
    """A voice file or its config is unreadable, inconsistent or not a Piper voice."""


class VoiceExistsError(VoicesmithError):
    """A voice with that id is already installed."""

    polly_type = "ConflictException"
    status = 409


class TextLengthExceededError(VoicesmithError):
    polly_type = "TextLengthExceededException"


class InvalidSsmlError(VoicesmithError):
    """SSML that is not well formed, or uses a tag, attribute or value Polly does not accept."""

    polly_type = "InvalidSsmlException"

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(f"{message}{where}")
        self.line = line
        self.column = column


class AudioDurationExceededError(ValidationError):
    """A request or task would make more audio than this server allows (its SSML breaks alone can:
    each ``<break>`` may last 10 s and they add up). Raised when the request is planned, before any
    audio is made; the message names the limit and the setting that raises it."""


class InvalidTextError(ValidationError):
    """Text that is not valid Unicode (lone surrogates cannot be encoded as UTF-8)."""


class SsmlMarksNotSupportedForTextTypeError(VoicesmithError):
    polly_type = "SsmlMarksNotSupportedForTextTypeException"


class MarksNotSupportedForFormatError(VoicesmithError):
    polly_type = "MarksNotSupportedForFormatException"


class InvalidSampleRateError(VoicesmithError):
    polly_type = "InvalidSampleRateException"


class UnsupportedFormatError(VoicesmithError):
    """An output format voicesmith cannot produce."""


class LanguageNotSupportedError(VoicesmithError):
    polly_type = "LanguageNotSupportedException"


class LexiconNotFoundError(VoicesmithError):
    polly_type = "LexiconNotFoundException"
    status = 404


class InvalidLexiconError(VoicesmithError):
    polly_type = "InvalidLexiconException"


class UnsupportedPlsAlphabetError(VoicesmithError):
    polly_type = "UnsupportedPlsAlphabetException"


class UnsupportedPlsLanguageError(VoicesmithError):
    polly_type = "UnsupportedPlsLanguageException"


class LexiconSizeExceededError(VoicesmithError):
    polly_type = "LexiconSizeExceededException"


class MaxLexemeLengthExceededError(VoicesmithError):
    polly_type = "MaxLexemeLengthExceededException"


class MaxLexiconsNumberExceededError(VoicesmithError):
    polly_type = "MaxLexiconsNumberExceededException"


class ServiceFailureError(VoicesmithError):
    """Something broke on our side; the request itself may be fine."""

    polly_type = "ServiceFailureException"
    status = 500


class AudioDecodeError(VoicesmithError):
    """Audio data that cannot be read in the format it claims (or any format, when none is named)."""


class ConflictError(VoicesmithError):
    """The resource is in a state that does not allow the request (a voice still training, say)."""

    polly_type = "ConflictException"
    status = 409


class ResourceNotFoundError(VoicesmithError):
    """No custom voice (or other resource) with that id."""

    polly_type = "ResourceNotFoundException"
    status = 404


class AccessDeniedError(VoicesmithError):
    """Missing, malformed or wrong credentials (a bad SigV4 signature, an unknown API key)."""

    polly_type = "AccessDeniedException"
    status = 403


class InvalidNextTokenError(VoicesmithError):
    polly_type = "InvalidNextTokenException"


class InvalidS3BucketError(VoicesmithError):
    polly_type = "InvalidS3BucketException"


class InvalidS3KeyError(VoicesmithError):
    polly_type = "InvalidS3KeyException"


class InvalidSnsTopicArnError(VoicesmithError):
    polly_type = "InvalidSnsTopicArnException"


class InvalidTaskIdError(VoicesmithError):
    polly_type = "InvalidTaskIdException"


class SynthesisTaskNotFoundError(VoicesmithError):
    """No synthesis task with that id (Polly answers it with 400, not 404)."""

    polly_type = "SynthesisTaskNotFoundException"


class RequestTooLargeError(VoicesmithError):
    """The HTTP request body is larger than the server accepts."""

    status = 413


class VoiceTrainingUnavailableError(VoicesmithError):
    """This installation has no voice-training pipeline to run custom-voice jobs."""

    polly_type = "ServiceFailureException"
    status = 500


class TaskCancelledError(VoicesmithError):
    """The synthesis task was cancelled (``DELETE /v1/synthesisTasks/{TaskId}``) while it ran."""


class TaskNotCancellableError(ConflictError):
    """The synthesis task has already finished: there is nothing left to cancel."""


class DatabaseUnavailableError(VoicesmithError):
    """The database cannot be read or written (a corrupt SQLite file, a server that is down); the
    message names the database and what an operator must do. The request itself may be fine."""

    polly_type = "ServiceFailureException"
    status = 503


class StorageError(VoicesmithError):
    """Task output could not be written (a full disk, a store that refuses writes)."""

    polly_type = "ServiceFailureException"
    status = 503


class TrainingError(VoicesmithError):
    """A training run cannot start or go on: bad prepared dataset, base voice or run folder."""


class ConsentMismatchError(ValidationError):
    """The consent recording's speaker is not the speaker of the recordings a voice is trained on."""

    def __init__(self, similarity: float, threshold: float) -> None:
        super().__init__(
            f"the consent recording does not sound like the speaker of the recordings (speaker similarity "
            f"{similarity:.2f}, at least {threshold:.2f} is needed): the person whose voice is cloned must "
            "record the consent statement themselves, in the same setting as the recordings; no voice is "
            "trained from recordings of someone else"
        )
        self.similarity = similarity
        self.threshold = threshold


# -- who may call, and how often (server/auth.py, server/sigv4.py, server/services.py) --------------------


class MissingAuthenticationTokenError(AccessDeniedError):
    """No credentials at all on a server that wants them."""

    polly_type = "MissingAuthenticationTokenException"


class IncompleteSignatureError(AccessDeniedError):
    """A SigV4 signature that is malformed or lacks a part (AWS answers it with 400)."""

    polly_type = "IncompleteSignatureException"
    status = 400


class UnrecognizedClientError(AccessDeniedError):
    """An access key id (or API key) that this server does not know."""

    polly_type = "UnrecognizedClientException"


class InvalidSignatureError(AccessDeniedError):
    """A signature that does not match, is stale or expired, or is scoped to another region or service."""

    polly_type = "InvalidSignatureException"


class ThrottlingError(VoicesmithError):
    """More requests than this server takes now (its queue is full, or the key's rate is spent).

    Polly answers ``ThrottlingException`` with HTTP 400, which boto3 retries with backoff; the OpenAI
    front end answers 429. Both carry ``Retry-After``.
    """

    polly_type = "ThrottlingException"
    status = 400

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceQuotaExceededError(VoicesmithError):
    """A request would go over a configured quota (upload storage for custom voices, say)."""

    polly_type = "ServiceQuotaExceededException"
    status = 402
