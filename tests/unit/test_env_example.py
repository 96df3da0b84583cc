"""deploy/env.example only suggests values helixq accepts."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
ENV_EXAMPLE = ROOT / "deploy" / "env.example"
SNAPSHOT = ROOT / "simulator" / "data" / "openrouter-models.json"
_MODEL_LINE = re.compile(r"^#?\s*(\w+_MODEL)=(\S+)", re.MULTILINE)


def test_every_model_the_example_suggests_is_in_the_simulator_catalog() -> None:
    listed = {model["id"] for model in json.loads(SNAPSHOT.read_text())["data"]}
    suggested = dict(_MODEL_LINE.findall(ENV_EXAMPLE.read_text()))
    assert "OPENROUTER_TENANT_1_DEFAULT_MODEL" in suggested
    unknown = {name: model for name, model in suggested.items() if model not in listed}
    assert unknown == {}
