"""`helixq api` checks the tenants it will seed before uvicorn starts."""

import pytest

from helixq.cli import USAGE, main


def test_api_refuses_a_seed_default_model_the_catalog_does_not_list_in_one_line(
    cli_database: str,
    listed_model: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append(a))
    typo = listed_model.replace("steady", "stedy")
    monkeypatch.setenv("OPENROUTER_TENANT_5_NAME", "acme")
    monkeypatch.setenv("OPENROUTER_TENANT_5_DEFAULT_MODEL", typo)
    assert main(["api"]) == USAGE
    assert capsys.readouterr().err == (
        f"helixq: invalid OPENROUTER_TENANT_5_DEFAULT_MODEL={typo!r}: not in the "
        f"model catalog (did you mean {listed_model!r}?)\n"
    )
    assert started == []
