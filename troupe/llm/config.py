"""The router's settings: keys, endpoints, per-role chains, timeouts, retries, breaker, cache and prices.

Read from the environment (`TROUPE_LLM_*`, plus the key names the providers document) and, optionally,
from a YAML or JSON file named by `TROUPE_LLM_CONFIG_FILE`; the environment wins over the file.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from troupe.llm.pricing import Price, find_price

__all__ = ["OFFLINE", "ChainLink", "Endpoint", "LLMSettings", "Role", "parse_chain"]

OFFLINE = "offline"
_CONFIG_FILE_ENV = "TROUPE_LLM_CONFIG_FILE"


class Role(StrEnum):
    PLANNER = "planner"
    REVIEWER = "reviewer"
    AI_TOOL = "ai_tool"


class ChainLink(BaseModel):
    """One `provider:model` of a role's chain."""

    model_config = ConfigDict(frozen=True)

    provider: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    model: str = Field(min_length=1, max_length=200)

    def __str__(self) -> str:
        return OFFLINE if self.provider == OFFLINE else f"{self.provider}:{self.model}"


class Endpoint(BaseModel):
    """Where a provider lives. `kind` selects the wire API; OpenAI-compatible servers are `openai`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["openai", "gemini"] = "openai"
    base_url: str | None = None
    api_key: SecretStr | None = None
    # Local servers (Ollama, vLLM, LM Studio) take no key: a base URL is all they need.
    needs_key: bool = False
    # Calls to it cost nothing (a local or scripted server): no price is looked up.
    free: bool = False
    key_names: str = Field(default="", description="Where the key is read from, for the skip message.")

    @property
    def usable(self) -> bool:
        return self.api_key is not None if self.needs_key else self.base_url is not None


def parse_chain(value: str | list[str]) -> list[ChainLink]:
    """`"gemini:gemini-2.5-pro,openai:gpt-4o"` (or the same as a list) -> links."""
    items = [p.strip() for p in value.split(",")] if isinstance(value, str) else [p.strip() for p in value]
    links = []
    for item in filter(None, items):
        provider, sep, model = item.partition(":")
        if not sep and provider == OFFLINE:
            model = OFFLINE
        elif not sep or not model:
            raise ValueError(f"chain entry {item!r} must be provider:model, e.g. openai:gpt-4o")
        links.append(ChainLink(provider=provider.strip().lower(), model=model.strip()))
    return links


def _key(*names: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(*names))


ChainField = Annotated[list[ChainLink], NoDecode]


class LLMSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TROUPE_LLM_", env_file=".env", extra="ignore")

    config_file: Path | None = None

    gemini_api_key: SecretStr | None = _key("GEMINI_API_KEY", "GOOGLE_API_KEY", "TROUPE_LLM_GEMINI_API_KEY")
    openai_api_key: SecretStr | None = _key("OPENAI_API_KEY", "TROUPE_LLM_OPENAI_API_KEY")
    mistral_api_key: SecretStr | None = _key("MISTRAL_API_KEY", "TROUPE_LLM_MISTRAL_API_KEY")
    gemini_base_url: str | None = None
    # responseJsonSchema, the native JSON-schema mode, is served by v1beta.
    gemini_api_version: str = "v1beta"
    openai_base_url: str | None = None
    mistral_base_url: str = "https://api.mistral.ai/v1"
    ollama_base_url: str | None = None
    ollama_model: str = "llama3.1"
    endpoints: dict[str, Endpoint] = Field(
        default_factory=dict, description="More OpenAI-compatible endpoints by name (Groq, vLLM, LM Studio)."
    )

    planner_chain: ChainField = Field(
        default_factory=lambda: parse_chain("gemini:gemini-2.5-pro,openai:gpt-4o")
    )
    reviewer_chain: ChainField = Field(
        default_factory=lambda: parse_chain("gemini:gemini-2.5-flash,openai:gpt-4o-mini")
    )
    ai_tool_chain: ChainField = Field(
        default_factory=lambda: parse_chain("mistral:mistral-small-latest,openai:gpt-4o-mini")
    )
    offline_fallback: bool = True

    timeout_s: float = Field(default=60.0, gt=0, description="Per provider call.")
    retry_attempts: int = Field(
        default=3, ge=1, le=10, description="Tries per provider on 5xx/connection errors."
    )
    retry_initial_s: float = Field(default=0.5, ge=0)
    retry_max_s: float = Field(default=8.0, ge=0)
    breaker_failures: int = Field(default=3, ge=1, description="Consecutive failures that open a circuit.")
    breaker_cooldown_s: float = Field(default=30.0, ge=0, description="How long an open circuit skips.")
    max_output_tokens: int = Field(default=4096, ge=16)
    cache_enabled: bool = True
    cache_ttl_s: float = Field(default=3600, gt=0)
    cache_collection: str = "llm_cache"
    prices: dict[str, Price] = Field(
        default_factory=dict,
        description="The operator's prices by `model` or `provider:model`, over the genai-prices catalogue.",
    )
    free_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="`provider:model` or `provider:*` served at no cost (local or scripted models).",
    )

    @field_validator("planner_chain", "reviewer_chain", "ai_tool_chain", mode="before")
    @classmethod
    def _parse_chain(cls, value: Any) -> Any:
        # A string from the environment, or a list of "provider:model" strings from a config file.
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return parse_chain(value)
        return value

    @field_validator("free_models", mode="before")
    @classmethod
    def _parse_free_models(cls, value: Any) -> Any:
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        path = _config_file_path(init_settings)
        if path is not None:
            if not path.is_file():
                raise FileNotFoundError(f"{_CONFIG_FILE_ENV} names {path}, which is not a file")
            # YAML is a superset of JSON, so one reader serves both.
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return (*sources, file_secret_settings)

    def chain(self, role: Role | str) -> list[ChainLink]:
        """The role's chain as configured, then Ollama when configured, then offline."""
        links = list(getattr(self, f"{Role(role).value}_chain"))
        if self.ollama_base_url and not any(link.provider == "ollama" for link in links):
            links.append(ChainLink(provider="ollama", model=self.ollama_model))
        if self.offline_fallback and not any(link.provider == OFFLINE for link in links):
            links.append(ChainLink(provider=OFFLINE, model=OFFLINE))
        return links

    def price(self, link: ChainLink) -> Price | None:
        """What a call to `link` costs per million tokens; None when no price is known (not free)."""
        endpoint = self.all_endpoints().get(link.provider)
        free = (
            (endpoint is not None and endpoint.free)
            or f"{link.provider}:{link.model}" in self.free_models
            or f"{link.provider}:*" in self.free_models
        )
        return find_price(self.prices, link.provider, link.model, free=free)

    def offline_named_in_chain(self, role: Role | str) -> bool:
        """Whether the role's chain names `offline` itself, rather than getting it appended by default."""
        return any(link.provider == OFFLINE for link in getattr(self, f"{Role(role).value}_chain"))

    def all_endpoints(self) -> dict[str, Endpoint]:
        """Built-in providers plus the configured extra endpoints (which may override a built-in)."""
        builtin = {
            "gemini": Endpoint(
                kind="gemini",
                base_url=self.gemini_base_url,
                api_key=self.gemini_api_key,
                needs_key=True,
                key_names="GEMINI_API_KEY or GOOGLE_API_KEY",
            ),
            "openai": Endpoint(
                base_url=self.openai_base_url,
                api_key=self.openai_api_key,
                needs_key=True,
                key_names="OPENAI_API_KEY",
            ),
            "mistral": Endpoint(
                base_url=self.mistral_base_url,
                api_key=self.mistral_api_key,
                needs_key=True,
                key_names="MISTRAL_API_KEY",
            ),
            "ollama": Endpoint(
                base_url=self.ollama_base_url, key_names="TROUPE_LLM_OLLAMA_BASE_URL", free=True
            ),
        }
        return {**builtin, **self.endpoints}


def _config_file_path(init_settings: PydanticBaseSettingsSource) -> Path | None:
    from_init = init_settings().get("config_file")
    raw = from_init if from_init is not None else os.environ.get(_CONFIG_FILE_ENV)
    return Path(raw) if raw else None
