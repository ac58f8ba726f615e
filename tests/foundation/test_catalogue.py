"""The model catalogue: the packaged facts stay sourced and current, and a user's models file adds to them."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

import pytest

from runtime.agentfile import catalogue
from runtime.agentfile.catalogue_file import CatalogueErrors
from runtime.agentfile.catalogue_schema import Lifecycle
from runtime.agentfile.loader import load_agent
from tests.foundation.helpers import only_error, position, write

PACKAGED = catalogue.load()
GROUPS = ("limits", "reply", "features", "tools", "input", "output", "lifecycle")


def test_a_passed_shutdown_date_means_the_model_is_marked_shut_down() -> None:
    """The catalogue cannot silently age: when a listed date passes, this fails until the data is updated."""
    today = catalogue.today()
    for info in PACKAGED.models.values():
        life = info.lifecycle
        if life.shutdown is not None and life.shutdown <= today:
            assert life.status == "shut_down", f"{info.id} shut down on {life.shutdown}: mark it `status: shut_down`"
        if life.deprecated is not None and life.deprecated <= today:
            assert life.status != "current", f"{info.id} is deprecated since {life.deprecated}: mark it"
    assert PACKAGED.checked <= today


@pytest.mark.parametrize("model_id", sorted(PACKAGED.models))
def test_every_fact_has_a_source(model_id: str) -> None:
    info = PACKAGED.models[model_id]
    for group in GROUPS:
        assert getattr(info, group).source, f"{model_id}.{group} has no source"
    refusals = [info.reply.text_refusal, info.input.client_content_refusal, info.input.media_chunks_refusal,
                info.setup_refusal]
    assert all(refusal.source for refusal in refusals if refusal is not None)


def test_every_replacement_leads_to_a_model_that_is_not_shut_down() -> None:
    for info in PACKAGED.models.values():
        seen, target = {info.id}, info.lifecycle.replacement
        while target is not None and PACKAGED.models[target].status() == "shut_down":
            assert target not in seen, f"replacements of {info.id} loop"
            seen.add(target)
            target = PACKAGED.models[target].lifecycle.replacement
        if info.status() == "shut_down":
            assert target is not None, f"{info.id} is shut down and names no replacement"


def test_the_seed_models_carry_their_real_lifecycle() -> None:
    shut = {model_id: PACKAGED.models[model_id].lifecycle for model_id in (
        "gemini-2.0-flash-live-001", "gemini-live-2.5-flash-preview", "gemini-2.0-flash-live-preview-04-09")}
    assert all(life.status == "shut_down" for life in shut.values())
    assert shut["gemini-2.0-flash-live-001"].shutdown == datetime.date(2025, 12, 9)
    assert shut["gemini-live-2.5-flash-preview"].shutdown == datetime.date(2025, 12, 9)
    assert {life.replacement for life in shut.values()} == {"gemini-2.5-flash-native-audio-preview-12-2025"}
    assert PACKAGED.models["gemini-2.5-flash-native-audio-preview-09-2025"].status() == "current"
    assert PACKAGED.newest() is PACKAGED.models["gemini-3.8-live"]
    assert {"gemini-3.1-flash-live-preview", "gemini-3.8-live-extended-thinking"} <= set(PACKAGED.ids("current"))


def test_the_rules_the_emulator_and_the_session_read() -> None:
    live_31 = PACKAGED.models["gemini-3.1-flash-live-preview"]
    assert live_31.input.client_content == "initial_history_only"
    assert live_31.input.client_content_refusal is not None and live_31.input.client_content_refusal.code == 1007
    assert live_31.input.media_chunks_refusal is not None
    assert live_31.input.media_chunks_refusal.reason.startswith("realtime_input.media_chunks is deprecated")
    assert (live_31.reply.text_refusal.code, live_31.reply.text_refusal.reason) == (1011, "Internal error encountered.")
    assert (live_31.output.parts_per_message, live_31.output.usage_before_first_turn) == ("several", True)
    native = PACKAGED.models["gemini-2.5-flash-native-audio-preview-12-2025"]
    assert native.reply.text_refusal is not None
    assert native.reply.text_refusal.reason == "Cannot extract voices from a non-audio request."
    assert native.output.parts_per_message == "one" and native.output.output_transcription == "sub_word"
    assert PACKAGED.models["gemini-3.8-live"].tools.default_behavior == "non_blocking"


def test_the_unknown_model_close_reason_is_cut_like_the_service_cuts_it() -> None:
    # google/adk-samples#23, verbatim: the reason stops at the close frame's 123 bytes
    reason = PACKAGED.service.unknown_model_reason("gemini-2.0-flash-001", "v1alpha")
    assert reason == ("models/gemini-2.0-flash-001 is not found for API version v1alpha, or is not supported for "
                      "bidiGenerateContent. Call ListMod")
    assert PACKAGED.service.unknown_model.code == 1008


def test_a_text_agent_on_a_model_that_only_speaks_gets_the_transcription() -> None:
    plan = PACKAGED.models["gemini-3.8-live"].reply_plan("text")
    assert (plan.modality, plan.output_transcription, plan.discard_audio) == ("AUDIO", True, True)
    half_cascade = PACKAGED.models["gemini-2.0-flash-live-001"].reply_plan("text")
    assert (half_cascade.modality, half_cascade.discard_audio) == ("TEXT", False)
    assert PACKAGED.models["gemini-3.8-live"].reply_plan("audio").discard_audio is False


def test_status_follows_the_dates_even_before_the_data_is_updated() -> None:
    life = Lifecycle(status="current", shutdown=datetime.date(2030, 1, 1))
    assert life.state_on(datetime.date(2029, 12, 31)) == "deprecated"
    assert life.state_on(datetime.date(2030, 1, 1)) == "shut_down"


# ---- validate ------------------------------------------------------------------------------------------------


def test_a_shut_down_model_is_an_error_naming_its_replacement(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "name: old\nmodel: gemini-2.0-flash-live-001\n"))
    assert position(error) == "2:8"
    assert error.message == "`gemini-2.0-flash-live-001` was shut down on 2025-12-09: the service refuses it"
    assert error.hint == ("use `gemini-2.5-flash-native-audio-preview-12-2025`, its replacement; "
                          "the newest Live model is `gemini-3.8-live`")


def test_a_deprecated_model_is_a_warning_with_its_shutdown_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = models_file(tmp_path, """
        models:
          - id: gemini-3.1-flash-live-preview
            like: gemini-3.1-flash-live-preview
            lifecycle: {status: deprecated, shutdown: 2099-03-01, source: "unconfirmed: a test"}
        """)
    monkeypatch.setenv(catalogue.ENV_VAR, str(models))
    [warning] = load_agent(write(tmp_path, "model: gemini-3.1-flash-live-preview\n")).warnings
    assert (warning.severity, position(warning)) == ("warning", "1:8")
    assert warning.message == "`gemini-3.1-flash-live-preview` is deprecated: it shuts down on 2099-03-01"
    assert warning.hint == "use `gemini-3.8-live`, its replacement"


def test_a_text_agent_on_an_audio_only_model_is_told_how_it_is_served(tmp_path: Path) -> None:
    path = write(tmp_path, "model: gemini-3.1-flash-live-preview\nresponse: text\nsession:\n"
                           "  transcription: {output: false}\n")
    [notice] = load_agent(path).warnings
    assert (notice.severity, position(notice)) == ("notice", "2:11")
    assert "served as audio with output transcription and the audio is discarded" in notice.message
    assert notice.message.endswith("(output transcription is turned on regardless)")


# ---- the user's models file ----------------------------------------------------------------------------------


def models_file(directory: Path, text: str, name: str = "models.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_a_models_file_adds_a_model_like_a_known_one(tmp_path: Path) -> None:
    path = models_file(tmp_path, """
        models:
          - id: gemini-4-live
            like: gemini-3.8-live
            display_name: Gemini 4 Live
            limits: {context_window_tokens: 262144, source: "https://example.com/gemini-4-live"}
            lifecycle: {stage: stable, status: current, released: 2027-01-12, source: "https://example.com/g4"}
        """)
    models = catalogue.load(path)
    added = models.models["gemini-4-live"]
    assert added.context_window_tokens == 262144
    assert added.reply.modalities == ("AUDIO",) and added.input.media_chunks == "refused"
    assert added.origin == str(path)
    assert models.newest() is added
    assert models.files[-1] == str(path)
    assert "gemini-3.8-live" in models.models, "the packaged models stay"


def test_a_models_file_replaces_a_model_by_id(tmp_path: Path) -> None:
    path = models_file(tmp_path, """
        models:
          - id: gemini-3.8-live
            kind: live_3
            limits: {context_window_tokens: 65536}
            reply: {modalities: [TEXT, AUDIO]}
        """)
    replaced = catalogue.load(path).models["gemini-3.8-live"]
    assert replaced.context_window_tokens == 65536 and replaced.text_response
    assert replaced.features.proactive_audio == "no", "a replacement without `like` starts from the defaults"


def test_the_environment_variable_selects_the_models_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = models_file(tmp_path, "models:\n  - {id: gemini-x-live, like: gemini-3.8-live}\n")
    monkeypatch.setenv(catalogue.ENV_VAR, str(path))
    assert catalogue.lookup("models/gemini-x-live") is not None
    models_file(tmp_path, "models:\n  - {id: gemini-y-live, like: gemini-3.8-live}\n# edited\n")
    assert catalogue.lookup("gemini-y-live") is not None, "an edited file is read again"
    monkeypatch.delenv(catalogue.ENV_VAR)
    assert catalogue.lookup("gemini-y-live") is None


BAD_FILES = [
    ("unknown-key", "models:\n  - id: m\n    like: gemini-3.8-live\n    featurs: {}\n", "4:5",
     "unknown key `featurs` in `models[0]`", "did you mean `features`?"),
    ("bad-like", "models:\n  - id: m\n    like: gemini-3.8-liv\n", "3:11",
     "`like: gemini-3.8-liv` names no known model", "did you mean `gemini-3.8-live`?"),
    ("bad-kind", "models:\n  - id: m\n    like: gemini-3.8-live\n    kind: live_4\n", "4:11",
     "`models[0].kind` must be one of: half_cascade, native_audio, live_3", "did you mean `live_3`?"),
    ("missing-key", "models:\n  - id: m\n    kind: live_3\n    limits: {context_window_tokens: 1}\n", "2:5",
     "missing key `reply` in `models[0]`", "or start from a known model with `like: ID`"),
    ("twice", "models:\n  - {id: m, like: gemini-3.8-live}\n  - {id: m, like: gemini-3.8-live}\n", "3:10",
     "model `m` is listed twice (first as models[0])", ""),
    ("bad-source", "models:\n  - id: m\n    like: gemini-3.8-live\n    limits: {source: a blog}\n", "4:22",
     "`models[0].limits.source`: `a blog` is not a source: use a URL, owner/repo#number or `unconfirmed: why`", ""),
    ("unknown-replacement", "models:\n  - id: m\n    like: gemini-3.8-live\n    lifecycle: {replacement: nope}\n",
     "4:30", "the replacement `nope` of `m` is not a known model",
     "describe it in this file too, or name a known model"),
    ("not-a-list", "models: gemini-3.8-live\n", "1:1", "a models file is a mapping with a `models:` list", None),
    ("service", "service: {}\nmodels: []\n", "1:1", "unknown key `service`", "allowed keys: models"),
]


@pytest.mark.parametrize(
    ("text", "where", "message", "hint"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_a_mistake_in_a_models_file_is_located(tmp_path: Path, text: str, where: str, message: str,
                                               hint: str | None) -> None:
    path = models_file(tmp_path, text)
    with pytest.raises(CatalogueErrors) as caught:
        catalogue.load(path)
    [error] = caught.value.errors
    assert (error.location.path, position(error), error.message) == (str(path), where, message), error.render()
    if hint is not None:
        assert error.hint == hint
    assert caught.value.render().startswith(f"{path}:{where}: error: {message}")


def test_an_unreadable_models_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogueErrors) as caught:
        catalogue.load(tmp_path / "missing.yaml")
    assert caught.value.render() == (
        f"{tmp_path / 'missing.yaml'}: error: cannot read the models file: No such file or directory\n"
        "  hint: check the path given by --models or $RUNTIME_MODELS"
    )


def test_the_schema_s_model_examples_are_current_models() -> None:
    from runtime.agentfile.spec import AgentSpec

    examples = AgentSpec.model_fields["model"].examples or []
    assert examples and all(PACKAGED.models[name].status() == "current" for name in examples)


def test_the_docs_model_table_shows_every_model_with_its_lifecycle() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "agent-file.md").read_text(encoding="utf-8")
    section = text.split("## Models\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip().strip("`"): line for line in section.splitlines() if line.startswith("| `")}
    for info in PACKAGED.models.values():
        row = rows[info.id]
        if info.status() == "shut_down":
            assert "shut down" in row and (info.lifecycle.shutdown is None or str(info.lifecycle.shutdown) in row)
        if info.lifecycle.replacement:
            assert info.lifecycle.replacement in row, row
        if info.lifecycle.released:
            assert info.lifecycle.released in row, row


def test_a_broken_models_file_fails_every_agent_with_its_own_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime.agentfile.loader import load_directory

    models = models_file(tmp_path, "models:\n  - {id: m, lik: gemini-3.8-live}\n")
    monkeypatch.setenv(catalogue.ENV_VAR, str(models))
    agents_dir = tmp_path / "agents"
    agents_dir.mkdir()
    write(agents_dir, "model: gemini-3.8-live\n")
    agents, errors = load_directory(agents_dir)
    assert agents == []
    assert {error.location.path for error in errors} == {str(models)}
    assert any(error.message == "unknown key `lik` in `models[0]`" and position(error) == "2:13" for error in errors)
