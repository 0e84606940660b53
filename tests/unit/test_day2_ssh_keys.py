"""SSH keys are named by the key, not by list position: adding, removing or reordering keys leaves the
other keys' resources alone (issue 14, item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import validate_config
from tests.keys import ADMIN_KEY, SECOND_KEY, THIRD_KEY
from tests.stacks import PROD, evaluate_values, variant

SSH_KEY = "hcloud:index/sshKey:SshKey"


def key_resources(tmp_path: Path, keys: list[str]) -> dict[str, str]:
    """Pulumi name -> public key of every SshKey the program declares."""
    evaluation = evaluate_values(tmp_path, variant(PROD, ssh={**PROD["ssh"], "publicKeys": keys}))
    return {key.name: key.inputs["publicKey"] for key in evaluation.mocks.by_type(SSH_KEY)}


@pytest.mark.parametrize("after", [
    [THIRD_KEY, SECOND_KEY, ADMIN_KEY],  # reordered
    [SECOND_KEY, THIRD_KEY],  # the first removed
    [ADMIN_KEY, THIRD_KEY],  # one in the middle removed
])
def test_each_key_keeps_its_resource_whatever_the_list_does(tmp_path: Path, after: list[str]) -> None:
    before = key_resources(tmp_path / "before", [ADMIN_KEY, SECOND_KEY, THIRD_KEY])
    changed = key_resources(tmp_path / "after", after)
    # Every key still listed is the same resource with the same input: no update, no replacement.
    assert {name: key for name, key in before.items() if key in after} == changed


def test_adding_a_key_first_only_adds_it(tmp_path: Path) -> None:
    before = key_resources(tmp_path / "before", [ADMIN_KEY])
    after = key_resources(tmp_path / "after", [SECOND_KEY, ADMIN_KEY])
    assert set(after) - set(before) and before.items() <= after.items()


def test_the_same_key_twice_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(variant(PROD, ssh={**PROD["ssh"], "publicKeys": [ADMIN_KEY, ADMIN_KEY.replace("ops@test", "other")]}))
    assert any(issue.path == "ssh.publicKeys[1]" and "same key as ssh.publicKeys[0]" in issue.reason for issue in caught.value.issues)
