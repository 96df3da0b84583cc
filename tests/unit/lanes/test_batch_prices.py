"""The discount lane's catalog: models with a `:batch` entry carry its prices."""

from decimal import Decimal

from shared.routing.catalog import ModelInfo
from workers.maintenance.discount_routing import batch_priced


def _model(model_id: str, price: str) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        context_length=1000,
        max_completion_tokens=100,
        prompt_price=Decimal(price),
        completion_price=Decimal(price),
    )


def test_a_model_with_a_batch_entry_is_priced_at_it_and_the_entry_left_out() -> None:
    catalog = {
        "a/m": _model("a/m", "0.000002"),
        "a/m:batch": _model("a/m:batch", "0.000001"),
        "b/m": _model("b/m", "0.000003"),
    }

    priced = batch_priced(catalog)

    assert set(priced) == {"a/m", "b/m"}
    assert priced["a/m"].prompt_price == Decimal("0.000001")
    assert priced["a/m"].context_length == 1000
    assert priced["b/m"].prompt_price == Decimal("0.000003")


def test_a_batch_entry_without_its_base_stands_for_it() -> None:
    priced = batch_priced({"c/m:batch": _model("c/m:batch", "0.0000005")})

    assert priced["c/m"].id == "c/m"
    assert priced["c/m"].completion_price == Decimal("0.0000005")
