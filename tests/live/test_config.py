"""The agent file → LiveConnectConfig mapping, field by field, and what the SDK puts on the wire."""

from __future__ import annotations

from typing import Any

from google.genai import types

from runtime.agentfile import catalogue
from runtime.agentfile.catalogue import ModelInfo
from runtime.agentfile.resolved_tools import ResolvedTool, declared
from runtime.agentfile.spec import AgentSpec
from runtime.live.config import EMPTY_PARAMETERS, client_marks_activity, live_config, reply_plan, scheduling


def spec(**fields: Any) -> AgentSpec:
    """The mapping of the agent file's own keys; the model's catalogue entry is passed separately (`model=`)."""
    return AgentSpec.model_validate({"model": "gemini-3.8-live", **fields})


def entry(model_id: str) -> ModelInfo:
    info = catalogue.lookup(model_id)
    assert info is not None
    return info


def test_response_modality_is_exactly_one() -> None:
    assert live_config(spec()).response_modalities == [types.Modality.AUDIO]
    assert live_config(spec(response="text")).response_modalities == [types.Modality.TEXT]  # a model not described


def test_a_text_agent_on_a_model_that_only_speaks_asks_for_audio_with_output_transcription() -> None:
    speaking_only = [entry(model_id) for model_id in catalogue.current().ids("current")]
    speaking_only = [model for model in speaking_only if not model.text_response]
    assert speaking_only  # every Live model of today
    for model in speaking_only:
        text_agent = spec(response="text", voice={"name": "Kore"}, session={"transcription": {"output": False}})
        config = live_config(text_agent, model=model)
        assert config.response_modalities == [types.Modality.AUDIO]
        assert config.output_audio_transcription is not None  # it carries the text, whatever the agent file says
        assert config.speech_config is None  # the voice is never heard
        assert reply_plan(text_agent, model).discard_audio
        speaking = live_config(spec(session={"transcription": {"output": False}}), model=model)
        assert speaking.response_modalities == [types.Modality.AUDIO] and speaking.output_audio_transcription is None
        assert not reply_plan(spec(), model).discard_audio


def test_blocking_tools_say_so_where_the_model_calls_asynchronously_by_default() -> None:
    tools = spec(tools=[
        {"name": "lookup", "python": "m:lookup"},
        {"name": "timer", "python": "m:timer", "behavior": "non_blocking"},
    ])
    behaviors = {}
    models = ("gemini-3.8-live", "gemini-3.1-flash-live-preview", "gemini-2.5-flash-native-audio-preview-12-2025")
    for model_id in models:
        config = live_config(tools, model=entry(model_id))
        assert config.tools is not None and config.tools[0].function_declarations is not None
        behaviors[model_id] = [declaration.behavior for declaration in config.tools[0].function_declarations]
    assert behaviors["gemini-3.8-live"] == [types.Behavior.BLOCKING, types.Behavior.NON_BLOCKING]
    assert behaviors["gemini-3.1-flash-live-preview"] == [None, types.Behavior.NON_BLOCKING]
    assert behaviors["gemini-2.5-flash-native-audio-preview-12-2025"] == [None, types.Behavior.NON_BLOCKING]


def test_voice_and_language_become_speech_config_for_audio_only() -> None:
    config = live_config(spec(voice={"name": "Kore", "language": "de-DE"}))
    assert config.speech_config is not None
    assert config.speech_config.language_code == "de-DE"
    assert config.speech_config.voice_config is not None
    assert config.speech_config.voice_config.prebuilt_voice_config is not None
    assert config.speech_config.voice_config.prebuilt_voice_config.voice_name == "Kore"
    assert live_config(spec(response="text", voice={"name": "Kore"})).speech_config is None
    assert live_config(spec()).speech_config is None
    language_only = live_config(spec(voice={"language": "fr-FR"})).speech_config
    assert language_only is not None and language_only.voice_config is None


def test_instructions_become_the_system_instruction() -> None:
    config = live_config(spec(instructions="Be brief."))
    assert isinstance(config.system_instruction, types.Content)
    assert config.system_instruction.parts is not None
    assert config.system_instruction.parts[0].text == "Be brief."
    assert live_config(spec()).system_instruction is None


def test_generation_parameters_map_one_to_one() -> None:
    config = live_config(spec(generation={
        "temperature": 0.7, "top_p": 0.9, "top_k": 40, "max_output_tokens": 512,
        "presence_penalty": 0.5, "frequency_penalty": -0.5, "thinking_budget": 0,
    }))
    assert (config.temperature, config.top_p, config.top_k, config.max_output_tokens) == (0.7, 0.9, 40, 512)
    assert config.generation_config is not None
    assert config.generation_config.presence_penalty == 0.5
    assert config.generation_config.frequency_penalty == -0.5
    assert config.thinking_config is not None and config.thinking_config.thinking_budget == 0
    plain = live_config(spec())
    assert plain.temperature is None and plain.generation_config is None and plain.thinking_config is None


def test_server_activity_detection_with_sensitivities_padding_and_silence() -> None:
    config = live_config(spec(activity={
        "start_sensitivity": "low", "end_sensitivity": "high", "prefix_padding_ms": 40, "silence_duration_ms": 500,
    }))
    assert config.realtime_input_config is not None
    detection = config.realtime_input_config.automatic_activity_detection
    assert detection is not None
    assert detection.disabled is False
    assert detection.start_of_speech_sensitivity == types.StartSensitivity.START_SENSITIVITY_LOW
    assert detection.end_of_speech_sensitivity == types.EndSensitivity.END_SENSITIVITY_HIGH
    assert (detection.prefix_padding_ms, detection.silence_duration_ms) == (40, 500)
    assert config.realtime_input_config.activity_handling == types.ActivityHandling.START_OF_ACTIVITY_INTERRUPTS


def test_barge_in_off_means_no_interruption() -> None:
    config = live_config(spec(activity={"barge_in": False}))
    assert config.realtime_input_config is not None
    assert config.realtime_input_config.activity_handling == types.ActivityHandling.NO_INTERRUPTION


def test_manual_and_push_to_talk_disable_server_detection() -> None:
    for mode in ("manual", "push_to_talk"):
        config = live_config(spec(activity={"mode": mode}))
        assert config.realtime_input_config is not None
        detection = config.realtime_input_config.automatic_activity_detection
        assert detection is not None and detection.disabled is True
        assert client_marks_activity(spec(activity={"mode": mode}).activity)
    assert not client_marks_activity(spec(activity={"mode": "wake_word"}).activity)


def test_context_compression_uses_a_sliding_window_and_can_be_turned_off() -> None:
    config = live_config(spec(context={"compression": {"trigger_tokens": 20000, "target_tokens": 9000}}))
    assert config.context_window_compression is not None
    assert config.context_window_compression.trigger_tokens == 20000
    assert config.context_window_compression.sliding_window is not None
    assert config.context_window_compression.sliding_window.target_tokens == 9000
    assert live_config(spec(context={"compression": {"enabled": False}})).context_window_compression is None


def test_session_resumption_carries_the_handle() -> None:
    config = live_config(spec(), handle="h-123")
    assert config.session_resumption is not None and config.session_resumption.handle == "h-123"
    fresh = live_config(spec())
    assert fresh.session_resumption is not None and fresh.session_resumption.handle is None
    assert live_config(spec(session={"resumption": False}), handle="h").session_resumption is None


def test_transcriptions_follow_the_session_settings() -> None:
    both = live_config(spec())
    assert both.input_audio_transcription is not None and both.output_audio_transcription is not None
    none = live_config(spec(session={"transcription": {"input": False, "output": False}}))
    assert none.input_audio_transcription is None and none.output_audio_transcription is None
    assert live_config(spec(response="text")).output_audio_transcription is None


def test_affective_dialog_and_proactive_audio() -> None:
    config = live_config(spec(session={"affective_dialog": True, "proactive_audio": True}))
    assert config.enable_affective_dialog is True
    assert config.proactivity is not None and config.proactivity.proactive_audio is True
    plain = live_config(spec())
    assert plain.enable_affective_dialog is None and plain.proactivity is None


def test_tools_become_function_declarations_with_behavior() -> None:
    weather_parameters = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    agent = spec(tools=[
        {"name": "set_timer", "description": "Start a timer.", "python": "tools:set_timer",
         "behavior": "non_blocking", "scheduling": "silent"},
        {"name": "weather", "http": {"url": "http://127.0.0.1/w?c={city}"}, "parameters": weather_parameters},
        {"name": "ping", "python": "tools:ping"},
    ])
    timer_parameters = {"type": "object", "properties": {"minutes": {"type": "integer"}}}
    resolved = [ResolvedTool(agent.tools[0], timer_parameters), declared(agent.tools[1]), declared(agent.tools[2])]
    config = live_config(agent, tools=resolved)
    assert config.tools is not None and len(config.tools) == 1
    declarations = config.tools[0].function_declarations
    assert declarations is not None
    timer, weather, ping = declarations
    assert (timer.name, timer.description) == ("set_timer", "Start a timer.")
    assert timer.behavior == types.Behavior.NON_BLOCKING
    assert timer.parameters_json_schema == {"type": "object", "properties": {"minutes": {"type": "integer"}}}
    assert weather.behavior is None and weather.parameters_json_schema == weather_parameters
    assert ping.parameters_json_schema == EMPTY_PARAMETERS
    assert live_config(spec()).tools is None


def test_scheduling_only_for_non_blocking_tools() -> None:
    tools = spec(tools=[
        {"name": "a", "python": "m:a", "behavior": "non_blocking", "scheduling": "interrupt"},
        {"name": "b", "python": "m:b", "behavior": "non_blocking"},
        {"name": "c", "python": "m:c"},
    ]).tools
    assert [scheduling(tool) for tool in tools] == [
        types.FunctionResponseScheduling.INTERRUPT, types.FunctionResponseScheduling.WHEN_IDLE, None,
    ]


def field(message: dict[str, Any], camel: str) -> Any:
    """The SDK sends some nested settings in snake_case (the service accepts both spellings)."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return message[camel] if camel in message else message[snake]


def test_the_sdk_puts_the_settings_into_the_setup_message() -> None:
    from google.genai import _common, client
    from google.genai import _live_converters as converters

    api = client.Client(api_key="test-key")._api_client
    config = live_config(spec(instructions="Hi", activity={"silence_duration_ms": 300}), handle="h")
    parameters = types.LiveConnectParameters(model="models/m", config=config).model_dump(exclude_none=True)
    setup = _common.convert_to_dict(converters._LiveConnectParameters_to_mldev(api_client=api, from_object=parameters))
    body = setup["setup"]
    assert body["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert body["sessionResumption"] == {"handle": "h"}
    detection = field(field(body, "realtimeInputConfig"), "automaticActivityDetection")
    assert field(detection, "silenceDurationMs") == 300
    window = field(field(body, "contextWindowCompression"), "slidingWindow")
    assert field(window, "targetTokens") == 12800
    assert field(body, "systemInstruction")["parts"] == [{"text": "Hi"}]


def test_built_in_tools_reach_the_setup_message_as_tools_of_their_own() -> None:
    from google.genai import _common, client
    from google.genai import _live_converters as converters

    api = client.Client(api_key="test-key")._api_client
    agent = spec(tools=[
        {"name": "ping", "http": {"url": "http://127.0.0.1:9/"}},
        {"google_search": {}},
        {"mcp": {"command": ["srv"]}},
        {"code_execution": {}},
    ])
    config = live_config(agent)
    parameters = types.LiveConnectParameters(model="models/m", config=config).model_dump(exclude_none=True)
    setup = _common.convert_to_dict(converters._LiveConnectParameters_to_mldev(api_client=api, from_object=parameters))
    tools = setup["setup"]["tools"]
    functions = [tool for tool in tools if "functionDeclarations" in tool]
    assert [declaration["name"] for declaration in functions[0]["functionDeclarations"]] == ["ping"]
    assert [tool for tool in tools if tool not in functions] == [{"googleSearch": {}}, {"codeExecution": {}}]


def test_built_in_tools_alone_need_no_function_declarations() -> None:
    config = live_config(spec(tools=[{"google_search": {}}]))
    assert config.tools == [types.Tool(google_search=types.GoogleSearch())]
