"""Pydantic models that cross a process boundary: what a client submits and what
the worker reads back from the job row."""

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared.lanes import Lane
from shared.strategies import FallbackStrategy, ModelSubstitution, RouteStrategy

ModelId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]


class ChatMessage(BaseModel):
    """One OpenAI-style message; unknown fields pass through to OpenRouter."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = Field(default=None, max_length=200)
    tool_call_id: str | None = Field(default=None, max_length=200)


class CompletionRequest(BaseModel):
    """An OpenRouter chat-completion body. Fields OpenRouter knows and we do not
    check are kept and sent on unchanged."""

    model_config = ConfigDict(extra="allow")

    model: ModelId | None = None
    models: list[ModelId] | None = Field(default=None, min_length=1, max_length=10)
    messages: list[ChatMessage] = Field(min_length=1, max_length=2000)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    repetition_penalty: float | None = Field(default=None, gt=0, le=2)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)  # int64
    stop: str | list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    provider: dict[str, Any] | None = None
    user: str | None = Field(default=None, max_length=256)


class RouteSpec(BaseModel):
    """A request's routing override; unset fields fall back to the tenant's."""

    model_config = ConfigDict(extra="forbid")

    strategy: RouteStrategy | None = None
    fallback: FallbackStrategy | None = None
    # Whether routing may call another model than the one the request names.
    model_substitution: ModelSubstitution | None = None
    # A streamed call that sends no chunk within this long gives way to the next
    # candidate; unset: the worker's HELIXQ_FIRST_TOKEN_TIMEOUT_S.
    first_token_timeout_s: float | None = Field(default=None, gt=0, le=600)


class JobCreate(CompletionRequest):
    """`POST /v1/jobs`: a completion body plus the broker's own fields."""

    route: RouteSpec | None = None
    custom_id: str | None = Field(default=None, max_length=200)
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    webhook_url: str | None = Field(default=None, max_length=2000)
    stream: bool | None = Field(
        default=None,
        description="Stream the answer from OpenRouter; follow it live with"
        " GET /v1/jobs/{id}/stream.",
    )

    def completion_body(self) -> dict[str, Any]:
        """The part sent to OpenRouter, without the broker's own fields; `stream`
        only when true (the worker then streams the call)."""
        body = self.model_dump(
            exclude_none=True,
            exclude={"route", "custom_id", "metadata", "webhook_url", "stream"},
        )
        if self.stream:
            body["stream"] = True
        return body


class ChatCompletionCreate(CompletionRequest):
    """`POST /v1/chat/completions`: an OpenAI/OpenRouter body, optionally streamed."""

    stream: bool = False
    route: RouteSpec | None = None

    def as_job(self) -> JobCreate:
        return JobCreate.model_validate(
            self.model_dump(exclude={"stream"})
            | ({"stream": True} if self.stream else {})
        )


EMBEDDINGS_MAX_INPUTS = 2048  # OpenAI's and OpenRouter's bound on `input` items
EmbeddingText = Annotated[str, StringConstraints(min_length=1)]
EmbeddingInput = (
    EmbeddingText
    | Annotated[
        list[EmbeddingText], Field(min_length=1, max_length=EMBEDDINGS_MAX_INPUTS)
    ]
    | Annotated[list[int], Field(min_length=1)]
    | Annotated[
        list[Annotated[list[int], Field(min_length=1)]],
        Field(min_length=1, max_length=EMBEDDINGS_MAX_INPUTS),
    ]
)


class EmbeddingsRequest(BaseModel):
    """An OpenAI/OpenRouter embeddings body. Fields OpenRouter knows and we do not
    check are kept and sent on unchanged; `messages` is refused, since it would
    make the body a chat completion (shared.endpoints)."""

    model_config = ConfigDict(extra="allow")

    model: ModelId | None = Field(
        default=None,
        description="an embedding model; unset: routing chooses among the tenant's"
        " embedding models, else among every embedding model of the catalog",
    )
    input: EmbeddingInput = Field(
        description="a string, a list of strings, a list of token ids or a list of"
        " lists of token ids"
    )
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1, le=65_536)
    user: str | None = Field(default=None, max_length=256)
    provider: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _not_chat(self) -> "EmbeddingsRequest":
        for name in ("messages", "stream"):
            if self.model_extra and name in self.model_extra:
                raise ValueError(f"{name} is not a field of an embeddings request")
        return self


class EmbeddingsJob(EmbeddingsRequest):
    """An embeddings request as a job: the body plus the broker's own fields."""

    route: RouteSpec | None = None
    custom_id: str | None = Field(default=None, max_length=200)
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    webhook_url: str | None = Field(default=None, max_length=2000)

    def completion_body(self) -> dict[str, Any]:
        """The part sent to OpenRouter, without the broker's own fields."""
        return self.model_dump(
            exclude_none=True, exclude={"route", "custom_id", "metadata", "webhook_url"}
        )


class EmbeddingsCreate(EmbeddingsRequest):
    """`POST /v1/embeddings`: an OpenAI/OpenRouter body, with helixq's `route`."""

    route: RouteSpec | None = None

    def as_job(self) -> EmbeddingsJob:
        return EmbeddingsJob.model_validate(self.model_dump(exclude_none=True))


BATCH_MAX_REQUESTS = 50_000
BATCH_ENDPOINTS = frozenset({"/v1/chat/completions", "/api/v1/chat/completions"})
EMBEDDINGS_BATCH_ENDPOINTS = frozenset({"/v1/embeddings", "/api/v1/embeddings"})


class BatchItem(BaseModel):
    """One request of an inline batch."""

    model_config = ConfigDict(extra="forbid")

    custom_id: str = Field(min_length=1, max_length=200)
    body: CompletionRequest


class BatchLine(BatchItem):
    """One line of a JSONL upload in OpenAI's batch format."""

    method: Literal["POST"] = "POST"
    url: str

    @field_validator("url")
    @classmethod
    def _known_endpoint(cls, url: str) -> str:
        if url not in BATCH_ENDPOINTS:
            known = sorted(BATCH_ENDPOINTS | EMBEDDINGS_BATCH_ENDPOINTS)
            raise ValueError(f"url must be one of {known}")
        return url


class EmbeddingsBatchLine(BaseModel):
    """One line of a JSONL upload for `/v1/embeddings`, in OpenAI's batch format."""

    model_config = ConfigDict(extra="forbid")

    custom_id: str = Field(min_length=1, max_length=200)
    method: Literal["POST"] = "POST"
    url: str
    body: EmbeddingsRequest


def batch_line_schema(raw: object) -> type[BatchLine | EmbeddingsBatchLine]:
    """The schema of a JSONL line, by the endpoint its `url` names."""
    url = raw.get("url") if isinstance(raw, dict) else None
    return EmbeddingsBatchLine if url in EMBEDDINGS_BATCH_ENDPOINTS else BatchLine


class BatchOptions(BaseModel):
    """What applies to every item of a batch."""

    model_config = ConfigDict(extra="forbid")

    route: RouteSpec | None = None
    webhook_url: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    completion_window: str = Field(default="24h", description="e.g. 1h, 24h")
    lane: Lane = Field(
        default=Lane.AUTO,
        description="auto: the discount lane (Batch API, about half price, within"
        " 24h) where a line can go, else realtime; discount: every line or a 422;"
        " realtime: every line at once, at list price",
    )


class BatchCreate(BatchOptions):
    """`POST /v1/batches` with the requests inline."""

    requests: list[dict[str, Any]] = Field(min_length=1, max_length=BATCH_MAX_REQUESTS)


FILE_BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings")


class FileBatchCreate(BatchOptions):
    """`POST /v1/batches` in OpenAI's form: the requests are a file's lines."""

    input_file_id: str = Field(min_length=1, max_length=100)
    endpoint: str = Field(
        description="every line's url: /v1/chat/completions or /v1/embeddings"
    )

    @field_validator("endpoint")
    @classmethod
    def _supported_endpoint(cls, endpoint: str) -> str:
        if endpoint not in FILE_BATCH_ENDPOINTS:
            raise ValueError(
                f"endpoint {endpoint[:100]!r} is not served here; "
                f"use one of {list(FILE_BATCH_ENDPOINTS)}"
            )
        return endpoint
