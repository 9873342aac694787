from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from troupe.llm import ChainLink, LLMSettings, Role
from troupe.llm.config import parse_chain
from troupe.llm.pricing import Price
from troupe.llm.wiring import build_providers

ENV_NAMES = [
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENAI_API_KEY",
    "MISTRAL_API_KEY",
    "TROUPE_LLM_CONFIG_FILE",
    "TROUPE_LLM_PLANNER_CHAIN",
    "TROUPE_LLM_REVIEWER_CHAIN",
    "TROUPE_LLM_AI_TOOL_CHAIN",
    "TROUPE_LLM_OLLAMA_BASE_URL",
    "TROUPE_LLM_ENDPOINTS",
    "TROUPE_LLM_TIMEOUT_S",
    "TROUPE_LLM_PRICES",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def settings() -> LLMSettings:
    return LLMSettings(_env_file=None)


def links(role: Role, s: LLMSettings) -> list[str]:
    return [str(link) for link in s.chain(role)]


def test_defaults_follow_the_design_and_end_offline() -> None:
    s = settings()
    assert links(Role.PLANNER, s) == ["gemini:gemini-2.5-pro", "openai:gpt-4o", "offline"]
    assert links(Role.REVIEWER, s) == ["gemini:gemini-2.5-flash", "openai:gpt-4o-mini", "offline"]
    assert links(Role.AI_TOOL, s) == ["mistral:mistral-small-latest", "openai:gpt-4o-mini", "offline"]


def test_a_chain_from_the_environment_then_ollama_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROUPE_LLM_PLANNER_CHAIN", "openai:gpt-4o , groq:llama-3.3-70b")
    monkeypatch.setenv("TROUPE_LLM_OLLAMA_BASE_URL", "http://127.0.0.1:11434/v1")
    assert links(Role.PLANNER, settings()) == [
        "openai:gpt-4o",
        "groq:llama-3.3-70b",
        "ollama:llama3.1",
        "offline",
    ]


def test_key_names_the_providers_document_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "g-key")
    monkeypatch.setenv("OPENAI_API_KEY", "o-key")
    s = settings()
    assert s.gemini_api_key is not None and s.gemini_api_key.get_secret_value() == "g-key"
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value() == "o-key"
    assert "o-key" not in repr(s)


@pytest.mark.parametrize("bad", ["gpt-4o", "openai:", "Open AI:gpt"])
def test_a_malformed_chain_entry_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_chain(bad)


def test_offline_may_be_named_alone_and_can_be_turned_off() -> None:
    assert parse_chain("openai:gpt-4o,offline")[-1] == ChainLink(provider="offline", model="offline")
    s = LLMSettings(_env_file=None, offline_fallback=False)
    assert links(Role.PLANNER, s)[-1] == "openai:gpt-4o"


def test_a_yaml_config_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "llm.yaml"
    path.write_text(
        "planner_chain: [openai:gpt-4o-mini]\n"
        "reviewer_chain: openai:gpt-4o\n"
        "timeout_s: 12\n"
        "prices:\n  my-model: {input_per_mtok: 1, output_per_mtok: 2}\n"
    )
    monkeypatch.setenv("TROUPE_LLM_CONFIG_FILE", str(path))
    monkeypatch.setenv("TROUPE_LLM_TIMEOUT_S", "7")
    s = settings()
    assert links(Role.PLANNER, s) == ["openai:gpt-4o-mini", "offline"]
    assert links(Role.REVIEWER, s) == ["openai:gpt-4o", "offline"]
    assert s.timeout_s == 7
    assert s.prices["my-model"].output_per_mtok == 2
    # Overriding one price keeps the catalogue's for every other model.
    assert s.price(parse_chain("openai:gpt-4o")[0]) is not None


def test_a_json_config_file_works_too(tmp_path: Path) -> None:
    path = tmp_path / "llm.json"
    path.write_text(json.dumps({"ai_tool_chain": "mistral:mistral-large-latest"}))
    s = LLMSettings(_env_file=None, config_file=path)
    assert links(Role.AI_TOOL, s)[0] == "mistral:mistral-large-latest"


def test_a_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TROUPE_LLM_CONFIG_FILE", str(tmp_path / "nope.yaml"))
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        settings()


def test_extra_openai_compatible_endpoints_come_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "TROUPE_LLM_ENDPOINTS",
        json.dumps({"groq": {"base_url": "https://api.groq.com/openai/v1", "api_key": "k"}}),
    )
    monkeypatch.setenv("TROUPE_LLM_PLANNER_CHAIN", "groq:llama-3.3-70b")
    providers, skipped = build_providers(settings())
    assert set(providers) == {"groq"}
    assert providers["groq"].system == "groq"
    assert sorted(skipped) == [
        "gemini: no GEMINI_API_KEY or GOOGLE_API_KEY set",
        "mistral: no MISTRAL_API_KEY set",
        "openai: no OPENAI_API_KEY set",
    ]


def test_a_chained_provider_nobody_defined_is_reported() -> None:
    s = LLMSettings(_env_file=None, planner_chain=parse_chain("nosuch:model"))
    _, skipped = build_providers(s)
    assert "nosuch: unknown provider; add it under TROUPE_LLM_ENDPOINTS" in skipped


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        LLMSettings(_env_file=None, timeout_s=0)


def test_prices_from_the_environment_override_the_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "TROUPE_LLM_PRICES", json.dumps({"gpt-4o": {"input_per_mtok": 9, "output_per_mtok": 9}})
    )
    monkeypatch.setenv("TROUPE_LLM_FREE_MODELS", "openai:scripted-model")
    s = settings()
    assert s.price(parse_chain("openai:gpt-4o")[0]) == Price(input_per_mtok=9, output_per_mtok=9)
    assert s.price(parse_chain("gemini:gemini-2.5-pro")[0]) == Price(input_per_mtok=1.25, output_per_mtok=10)
    assert s.price(parse_chain("openai:scripted-model")[0]) == Price()
