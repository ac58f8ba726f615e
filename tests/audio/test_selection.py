"""Choosing a device and its format from PortAudio's list, without hardware."""

from __future__ import annotations

import pytest

from runtime.audio.selection import choose_device, choose_format
from runtime.errors import DeviceError

DEVICES = [
    {
        "name": "bcm2835 Headphones: - (hw:0,0)",
        "max_input_channels": 0,
        "max_output_channels": 8,
        "default_samplerate": 44100.0,
    },
    {
        "name": "USB PnP Sound Device: Audio (hw:1,0)",
        "max_input_channels": 1,
        "max_output_channels": 2,
        "default_samplerate": 48000.0,
    },
    {"name": "pulse", "max_input_channels": 32, "max_output_channels": 32, "default_samplerate": 44100.0},
    {"name": "default", "max_input_channels": 32, "max_output_channels": 32, "default_samplerate": 44100.0},
]


def test_a_name_substring_picks_the_first_device_with_that_direction() -> None:
    assert choose_device(DEVICES, 3, "usb pnp", "input") == 1
    assert choose_device(DEVICES, 3, "Headphones", "output") == 0


def test_default_means_portaudios_default_and_an_exact_name_beats_a_substring() -> None:
    assert choose_device(DEVICES, 2, "default", "input") == 2
    assert choose_device(DEVICES, -1, "default", "input") == 3
    assert choose_device(DEVICES, 3, "pulse", "output") == 2


def test_an_index_must_have_channels_in_that_direction() -> None:
    assert choose_device(DEVICES, 3, 1, "input") == 1
    assert choose_device(DEVICES, 3, "1", "output") == 1
    with pytest.raises(DeviceError, match="no input device with index 0"):
        choose_device(DEVICES, 3, 0, "input")


def test_an_unknown_name_lists_what_there_is() -> None:
    with pytest.raises(DeviceError, match=r"no input device matches 'Blue Yeti'.*USB PnP"):
        choose_device(DEVICES, 3, "Blue Yeti", "input")
    with pytest.raises(DeviceError, match="this machine has no input devices"):
        choose_device([], -1, "default", "input")


def test_the_api_rate_in_mono_is_used_when_the_hardware_takes_it() -> None:
    assert choose_format(DEVICES[1], "input", 16_000, lambda rate, channels: True) == (16_000, 1)


def test_hardware_that_only_runs_at_its_own_rate_and_in_stereo_gets_that() -> None:
    def only_48k_stereo(rate: int, channels: int) -> bool:
        return rate == 48_000 and channels == 2

    assert choose_format(DEVICES[1], "output", 24_000, only_48k_stereo) == (48_000, 2)
    with pytest.raises(DeviceError, match="accepts none"):
        choose_format(DEVICES[1], "input", 16_000, lambda rate, channels: False)
