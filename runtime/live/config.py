"""`AgentSpec` → `google.genai.types.LiveConnectConfig`: the one place where agent-file keys meet the wire.

Pure: no I/O, no clock. Tools come in resolved (`runtime.agentfile.resolved_tools`: a Python tool's schema was derived
from its type hints when the agent was loaded), and so does the model's catalogue entry: how it replies
(`ModelInfo.reply_plan`) and what a function declaration without `behavior` means on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.genai import types

from runtime.agentfile.catalogue import ModelInfo, ReplyPlan
from runtime.agentfile.resolved_tools import EMPTY_PARAMETERS, ResolvedTool, declared
from runtime.agentfile.spec import Activity, AgentSpec, Generation, Tool

__all__ = ["EMPTY_PARAMETERS", "client_marks_activity", "live_config", "realtime_input_config", "reply_plan",
           "scheduling"]

_START_SENSITIVITY = {
    "high": types.StartSensitivity.START_SENSITIVITY_HIGH,
    "low": types.StartSensitivity.START_SENSITIVITY_LOW,
}
_END_SENSITIVITY = {
    "high": types.EndSensitivity.END_SENSITIVITY_HIGH,
    "low": types.EndSensitivity.END_SENSITIVITY_LOW,
}
_SCHEDULING = {
    "interrupt": types.FunctionResponseScheduling.INTERRUPT,
    "when_idle": types.FunctionResponseScheduling.WHEN_IDLE,
    "silent": types.FunctionResponseScheduling.SILENT,
}


def live_config(
    spec: AgentSpec,
    *,
    model: ModelInfo | None = None,
    handle: str | None = None,
    tools: Sequence[ResolvedTool] | None = None,
) -> types.LiveConnectConfig:
    """The connect config of one connection; `handle` resumes an earlier session when resumption is on.
    `model` is the catalogue entry of `spec.model` (None for a model the catalogue does not know); `tools` are
    the agent's tools as loaded (None: `spec.tools` as written, `resolved_tools.declared`)."""
    if tools is None:
        tools = [declared(tool) for _, tool in spec.functions()]
    audio = spec.response == "audio"
    plan = reply_plan(spec, model)
    transcribe_output = plan.output_transcription or (audio and spec.session.transcription.output)
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO if plan.modality == "AUDIO" else types.Modality.TEXT],
        speech_config=_speech_config(spec) if audio else None,
        system_instruction=_instructions(spec.instructions),
        **_generation_fields(spec.generation),
        enable_affective_dialog=True if spec.session.affective_dialog else None,
        proactivity=types.ProactivityConfig(proactive_audio=True) if spec.session.proactive_audio else None,
        realtime_input_config=realtime_input_config(spec.activity),
        context_window_compression=_compression(spec),
        session_resumption=types.SessionResumptionConfig(handle=handle) if spec.session.resumption else None,
        input_audio_transcription=types.AudioTranscriptionConfig() if spec.session.transcription.input else None,
        output_audio_transcription=types.AudioTranscriptionConfig() if transcribe_output else None,
        tools=_tools(tools, say_blocking=_calls_asynchronously_by_default(model), builtin=spec.builtin_tools()),
    )


def reply_plan(spec: AgentSpec, model: ModelInfo | None) -> ReplyPlan:
    """How the reply the agent asks for is got: a text agent on a model that only speaks (every Live model of
    today) asks for AUDIO with output transcription, and its audio is dropped (the catalogue's decision). A model
    the catalogue does not know is asked for what the agent wants."""
    if model is not None:
        return model.reply_plan(spec.response)
    return ReplyPlan("AUDIO" if spec.response == "audio" else "TEXT", output_transcription=False, discard_audio=False)


def _calls_asynchronously_by_default(model: ModelInfo | None) -> bool:
    """The 3.8 family calls a function declared without `behavior` asynchronously (runtime/data/models.yaml
    `tools.default_behavior`, https://ai.google.dev/gemini-api/docs/models/gemini-3.8-live): a blocking tool
    must say `BLOCKING` there, or the model talks on without waiting for its result."""
    return model is not None and model.tools.default_behavior == "non_blocking"


def _speech_config(spec: AgentSpec) -> types.SpeechConfig | None:
    if spec.voice.name is None and spec.voice.language is None:
        return None
    voice = None
    if spec.voice.name is not None:
        voice = types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=spec.voice.name))
    return types.SpeechConfig(voice_config=voice, language_code=spec.voice.language)


def _instructions(text: str | None) -> types.Content | None:
    if not text:
        return None
    return types.Content(role="user", parts=[types.Part(text=text)])


def _generation_fields(generation: Generation) -> dict[str, Any]:
    """Sampling fields; the penalties have no top-level Live field, so they ride in `generation_config`."""
    penalties = None
    if generation.presence_penalty is not None or generation.frequency_penalty is not None:
        penalties = types.GenerationConfig(
            presence_penalty=generation.presence_penalty, frequency_penalty=generation.frequency_penalty
        )
    thinking = None
    if generation.thinking_budget is not None:
        thinking = types.ThinkingConfig(thinking_budget=generation.thinking_budget)
    return {
        "generation_config": penalties,
        "temperature": generation.temperature,
        "top_p": generation.top_p,
        "top_k": generation.top_k,
        "max_output_tokens": generation.max_output_tokens,
        "thinking_config": thinking,
    }


def realtime_input_config(activity: Activity) -> types.RealtimeInputConfig:
    """Server VAD for `server` and `wake_word`; the client marks activity itself in `manual`/`push_to_talk`."""
    handling = (
        types.ActivityHandling.START_OF_ACTIVITY_INTERRUPTS
        if activity.barge_in
        else types.ActivityHandling.NO_INTERRUPTION
    )
    if client_marks_activity(activity):
        detection = types.AutomaticActivityDetection(disabled=True)
    else:
        detection = types.AutomaticActivityDetection(
            disabled=False,
            start_of_speech_sensitivity=_START_SENSITIVITY[activity.start_sensitivity],
            end_of_speech_sensitivity=_END_SENSITIVITY[activity.end_sensitivity],
            prefix_padding_ms=activity.prefix_padding_ms,
            silence_duration_ms=activity.silence_duration_ms,
        )
    return types.RealtimeInputConfig(automatic_activity_detection=detection, activity_handling=handling)


def client_marks_activity(activity: Activity) -> bool:
    """True when the client sends `activityStart`/`activityEnd` itself."""
    return activity.mode in ("manual", "push_to_talk")


def _compression(spec: AgentSpec) -> types.ContextWindowCompressionConfig | None:
    compression = spec.context.compression
    if not compression.enabled:
        return None
    return types.ContextWindowCompressionConfig(
        trigger_tokens=compression.trigger_tokens,
        sliding_window=types.SlidingWindow(target_tokens=compression.target_tokens),
    )


_BUILTIN_TOOLS = {
    "google_search": types.Tool(google_search=types.GoogleSearch()),
    "code_execution": types.Tool(code_execution=types.ToolCodeExecution()),
}
"""Gemini's own tools, each a `Tool` of its own beside the function declarations (`{"googleSearch": {}}`)."""


def _tools(
    tools: Sequence[ResolvedTool], *, say_blocking: bool, builtin: Sequence[str] = ()
) -> list[types.Tool] | None:
    """Declarations; `behavior` only where it differs from the model's default (`say_blocking`: the default is
    asynchronous), so that a setup stays what every model has always accepted. Built-in tools follow."""
    extra = [_BUILTIN_TOOLS[name] for name in builtin]
    if not tools:
        return extra or None
    blocking = types.Behavior.BLOCKING if say_blocking else None
    declarations = [
        types.FunctionDeclaration(
            name=tool.name,
            description=tool.tool.description or None,
            parameters_json_schema=tool.parameters,
            behavior=types.Behavior.NON_BLOCKING if tool.tool.behavior == "non_blocking" else blocking,
        )
        for tool in tools
    ]
    return [types.Tool(function_declarations=declarations), *extra]


def scheduling(tool: Tool) -> types.FunctionResponseScheduling | None:
    """How a non-blocking tool's result is delivered; blocking tools carry no scheduling."""
    if tool.behavior != "non_blocking":
        return None
    return _SCHEDULING[tool.scheduling or "when_idle"]
