"""FlagFile against a directory laid out as the kubelet lays out a ConfigMap volume:
flags.json -> ..data/flags.json, ..data -> ..<n>/, swapped atomically on update."""
import json
import os

import pytest

from agentrollout_flags import FlagFile


class Volume:
    def __init__(self, root):
        self.root = root
        self.generation = 0
        self.publish(self.flag(0))
        os.symlink(os.path.join("..data", "flags.json"), root / "flags.json")

    @staticmethod
    def flag(percentage, **extra):
        return json.dumps({"voice_agent_v2": {"enabled": True, "percentage": percentage, **extra}})

    def publish(self, document):
        """Writes a new ..<n> directory and swaps ..data to it, as the kubelet does."""
        self.generation += 1
        directory = f"..{self.generation}"
        (self.root / directory).mkdir()
        (self.root / directory / "flags.json").write_text(document, "utf-8")
        os.symlink(directory, self.root / "..data_tmp")
        os.replace(self.root / "..data_tmp", self.root / "..data")

    @property
    def path(self):
        return str(self.root / "flags.json")


@pytest.fixture
def volume(tmp_path):
    return Volume(tmp_path)


def test_sees_the_kubelet_symlink_swap(volume):
    flags = FlagFile(volume.path, check_interval=0)
    assert not flags.is_on("voice_agent_v2", "tenant-0001")  # 0 %
    volume.publish(volume.flag(100))
    assert flags.is_on("voice_agent_v2", "tenant-0001")
    volume.publish(volume.flag(100, disabledTenants=["tenant-0001"]))
    assert not flags.is_on("voice_agent_v2", "tenant-0001")
    assert flags.errors == []


def test_does_not_look_again_within_the_check_interval(volume):
    flags = FlagFile(volume.path, check_interval=60)
    volume.publish(volume.flag(100))
    assert not flags.is_on("voice_agent_v2", "tenant-0001")
    flags.refresh()
    assert flags.is_on("voice_agent_v2", "tenant-0001")


def test_keeps_the_last_flags_when_the_document_turns_unreadable(volume):
    reported = []
    flags = FlagFile(volume.path, check_interval=0, on_error=reported.append)
    volume.publish(volume.flag(100))
    assert flags.is_on("voice_agent_v2", "tenant-0001")
    volume.publish("{not json")
    assert flags.is_on("voice_agent_v2", "tenant-0001")
    assert flags.is_on("voice_agent_v2", "tenant-0001")
    assert len(reported) == 1 and "not valid JSON" in reported[0][0]
    volume.publish(json.dumps({"voice_agent_v2": {"enabled": True, "percentage": 140}, "other": {}}))
    assert not flags.is_on("voice_agent_v2", "tenant-0001")  # the bad entry is left out
    assert "voice_agent_v2.percentage" in flags.errors[0]


def test_a_missing_file_is_all_off_with_an_error(volume):
    flags = FlagFile(str(volume.root / "absent.json"), check_interval=0)
    assert not flags.is_on("voice_agent_v2", "tenant-0001")
    assert "absent.json" in flags.errors[0]
