"""Polly's asynchronous synthesis tasks: StartSpeechSynthesisTask, GetSpeechSynthesisTask,
ListSpeechSynthesisTasks, and the work a task runner does for each task.

A task is checked in full when it is submitted (the same checks as SynthesizeSpeech, with the task
limits), stored, and run by the worker pool. Its output goes to ``<storage>/<bucket>/<prefix><TaskId>.<ext>``
(speech marks: ``.marks``, JSON lines). ``SnsTopicArn`` may be an http(s) URL, or an SNS ARN an operator
subscribed URLs to: :mod:`voicesmith.server.webhooks` delivers the notification SNS would.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from voicesmith.audio.formats import get_format
from voicesmith.errors import (
    InvalidSnsTopicArnError,
    InvalidTaskIdError,
    SynthesisTaskNotFoundError,
    TaskCancelledError,
    TaskNotCancellableError,
    ValidationError,
)
from voicesmith.server import metrics
from voicesmith.server.deps import ServicesDep, polly_auth
from voicesmith.server.polly import epoch, prepare_speech
from voicesmith.server.services import Services
from voicesmith.server.speech import TASK_LIMITS, PollySpeechFields, check_engine, enum_error, output_bytes
from voicesmith.server.webhooks import check_webhook_url, notify, parse_networks
from voicesmith.tasks.store import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    SCHEDULED,
    TaskRow,
    decode_token,
    encode_token,
)

_LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["polly"], dependencies=[Depends(polly_auth)])

TASK_STATUSES = (SCHEDULED, IN_PROGRESS, COMPLETED, FAILED)
_TASK_ID = re.compile(r"[a-zA-Z0-9_-]{1,100}")
_SNS_ARN = re.compile(
    r"arn:aws(-(cn|iso(-b)?|us-gov|eusc))?:sns:[a-z0-9_-]{1,50}:\d{12}:[a-zA-Z0-9_-]{1,251}([a-zA-Z0-9_-]{0,5}|\.fifo)"
)
_WEBHOOK = re.compile(r"https?://[^\s]{1,2000}")


class StartTaskFields(PollySpeechFields):
    OutputS3BucketName: str
    OutputS3KeyPrefix: str = ""
    SnsTopicArn: str | None = None


def output_extension(output_format: str) -> str:
    return ".marks" if output_format == "json" else get_format(output_format).extension


def check_sns_topic(topic: str | None, allowed_networks: list[str] | None = None) -> str | None:
    """The topic: an SNS ARN, or an http(s) URL this server may call (:mod:`voicesmith.server.webhooks`)."""
    if topic is None or _SNS_ARN.fullmatch(topic):
        return topic
    if _WEBHOOK.fullmatch(topic):
        check_webhook_url(topic, parse_networks(allowed_networks or []))
        return topic
    raise InvalidSnsTopicArnError(
        f"SnsTopicArn {topic[:80]!r} is neither an SNS topic ARN nor an http(s) webhook URL"
    )


def task_json(row: TaskRow) -> dict[str, Any]:
    request = row.request
    task: dict[str, Any] = {
        "Engine": check_engine(request.get("Engine")),
        "TaskId": row.id,
        "TaskStatus": row.status,
        "OutputUri": row.output_uri,
        "CreationTime": epoch(row.created),
        "RequestCharacters": row.request_characters,
        "LexiconNames": request.get("LexiconNames", []),
        "OutputFormat": request["OutputFormat"],
        "SpeechMarkTypes": request.get("SpeechMarkTypes", []),
        "TextType": request.get("TextType", "text"),
        "VoiceId": request["VoiceId"],
    }
    for field, value in (
        ("TaskStatusReason", row.status_reason),
        ("SnsTopicArn", request.get("SnsTopicArn")),
        ("SampleRate", request.get("SampleRate")),
        ("LanguageCode", request.get("LanguageCode")),
    ):
        if value is not None:
            task[field] = value
    return task


def _start(services: Services, fields: StartTaskFields) -> TaskRow:
    speech = prepare_speech(services, fields, TASK_LIMITS, services.settings.max_task_audio_seconds)
    check_sns_topic(fields.SnsTopicArn, services.settings.webhook_allowed_networks)
    task_id = str(uuid.uuid4())
    key = services.storage.key(
        fields.OutputS3BucketName, fields.OutputS3KeyPrefix, task_id + output_extension(fields.OutputFormat)
    )
    request = fields.model_dump(exclude_none=True)
    request["OutputKey"] = key
    if speech.sample_rate is not None and fields.SampleRate is None:
        request["SampleRate"] = str(speech.sample_rate)
    row = TaskRow(
        id=task_id,
        status=SCHEDULED,
        request=request,
        output_uri=services.storage.uri(key),
        request_characters=speech.billed_characters,
        created=None,
    )
    services.store.add(row)
    if services.runner is not None:
        services.runner.wake()
    _LOGGER.info("task %s scheduled (%d characters) -> %s", task_id, speech.billed_characters, row.output_uri)
    return row


@router.post("/synthesisTasks", summary="StartSpeechSynthesisTask")
async def start_task(fields: StartTaskFields, services: ServicesDep) -> dict:
    row = await services.pool.run(_start, services, fields)
    return {"SynthesisTask": task_json(row)}


@router.get("/synthesisTasks/{TaskId}", summary="GetSpeechSynthesisTask")
def get_task(task_id: Annotated[str, Path(alias="TaskId")], services: ServicesDep) -> dict:
    if not _TASK_ID.fullmatch(task_id):
        raise InvalidTaskIdError(f"TaskId {task_id[:120]!r} is not a valid task id")
    row = services.store.get_task(task_id)
    if row is None:
        raise SynthesisTaskNotFoundError(f"no synthesis task with id {task_id!r}")
    return {"SynthesisTask": task_json(row)}


CANCELLED_REASON = "cancelled by a DELETE /v1/synthesisTasks/{TaskId} request"


@router.delete("/synthesisTasks/{TaskId}", summary="Cancel a synthesis task (voicesmith extension)")
def cancel_task(task_id: Annotated[str, Path(alias="TaskId")], services: ServicesDep) -> dict:
    """Cancel a scheduled or running task: it fails with a reason saying so, a running worker stops
    within one chunk of audio, and no output is written. Polly has no such operation (boto3 cannot
    call it); a finished task is a ConflictException."""
    if not _TASK_ID.fullmatch(task_id):
        raise InvalidTaskIdError(f"TaskId {task_id[:120]!r} is not a valid task id")
    row = services.store.cancel(task_id, CANCELLED_REASON)
    if row is None:
        raise SynthesisTaskNotFoundError(f"no synthesis task with id {task_id!r}")
    if row.status_reason != CANCELLED_REASON:
        raise TaskNotCancellableError(
            f"synthesis task {task_id!r} is already {row.status}: nothing to cancel"
        )
    _LOGGER.info("task %s cancelled", task_id)
    return {"SynthesisTask": task_json(row)}


@router.get("/synthesisTasks", summary="ListSpeechSynthesisTasks")
def list_tasks(
    services: ServicesDep,
    max_results: Annotated[int, Query(alias="MaxResults")] = 100,
    token: Annotated[str | None, Query(alias="NextToken")] = None,
    status: Annotated[str | None, Query(alias="Status")] = None,
) -> dict:
    if not 1 <= max_results <= 100:
        raise ValidationError(f"MaxResults {max_results} is out of range: use 1 to 100")
    if status is not None and status not in TASK_STATUSES:
        raise enum_error(status, "status", TASK_STATUSES)
    offset = decode_token(token)
    rows = services.store.list_tasks(status, offset, max_results + 1)
    result: dict[str, Any] = {"SynthesisTasks": [task_json(row) for row in rows[:max_results]]}
    if len(rows) > max_results:
        result["NextToken"] = encode_token(offset + max_results)
    return result


# -- the work ----------------------------------------------------------------------------------------------


CANCEL_CHECK_SECONDS = 0.5
"""How often (at most) a running task looks whether it was cancelled: between chunks, at most this often."""


def run_task(services: Services, row: TaskRow) -> None:
    """Synthesize one task and write its output (called by the task runner, in a worker thread).

    The task's audio limit is checked when it is planned, before any output; between chunks the worker
    checks that it still holds the task (a cancel takes the claim away) and stops if not.
    """
    metrics.DOOR.set("tasks")  # this worker thread's context: its audio counts as the tasks'
    fields = StartTaskFields.model_validate(row.request)
    speech = prepare_speech(services, fields, TASK_LIMITS, services.settings.max_task_audio_seconds)
    blocks = output_bytes(services.synthesizer, speech)
    if row.claim is not None:
        blocks = _until_cancelled(services, row.id, row.claim, blocks)
    services.storage.write(row.request["OutputKey"], blocks)


def _until_cancelled(
    services: Services, task_id: str, claim: str, blocks: Iterator[bytes]
) -> Iterator[bytes]:
    checked = time.monotonic()
    for block in blocks:
        if time.monotonic() - checked >= CANCEL_CHECK_SECONDS:
            checked = time.monotonic()
            if not services.store.holds(TaskRow, task_id, claim):
                raise TaskCancelledError(
                    f"synthesis task {task_id} was cancelled (or taken over) while it ran"
                )
        yield block


def task_finished(services: Services, task_id: str) -> None:
    """What follows a task's end: the ``.partial`` output of a failed one removed (a worker killed
    mid-write leaves it; given up after its last attempt, nothing else would), then the webhook."""
    row = services.store.get_task(task_id)
    if row is not None and row.status == FAILED and "OutputKey" in row.request:
        services.storage.discard_partial(row.request["OutputKey"])
    notify(services, task_id)  # the SNS notification, queued for the delivery threads
