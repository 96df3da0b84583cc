"""Which lane a batch line gets: the auto rule and discount's reasons."""

from typing import Any

from shared.lanes import Lane, LanePolicy, batch_variant, discount_refusals

CATALOG = frozenset({"openai/gpt-4o-mini", "openai/gpt-4o-mini:batch", "x/realtime"})
DAY_S = 24 * 3600


def body(**fields: Any) -> dict[str, Any]:
    return {
        "model": "openai/gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        **fields,
    }


def policy(requested: Lane, window_s: int = DAY_S, **kw: Any) -> LanePolicy:
    return LanePolicy(requested=requested, window_s=window_s, catalog_ids=CATALOG, **kw)


def test_auto_picks_discount_for_a_day_long_batch_of_a_batchable_model() -> None:
    assert policy(Lane.AUTO).lane_of(body()) == (Lane.DISCOUNT, [])


def test_auto_runs_realtime_when_the_window_is_short() -> None:
    assert policy(Lane.AUTO, window_s=3600).lane_of(body()) == (Lane.REALTIME, [])


def test_auto_runs_realtime_a_model_without_batch_endpoint() -> None:
    assert policy(Lane.AUTO).lane_of(body(model="x/realtime")) == (Lane.REALTIME, [])


def test_auto_runs_realtime_a_line_with_a_data_uri_image() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    line = body(messages=[{"role": "user", "content": [image]}])
    assert policy(Lane.AUTO).lane_of(line) == (Lane.REALTIME, [])


def test_a_public_image_url_is_accepted_on_the_discount_lane() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    assert (
        discount_refusals(body(messages=[{"role": "user", "content": [image]}])) == []
    )


def test_discount_names_every_reason_a_line_cannot_go() -> None:
    lane, reasons = policy(Lane.DISCOUNT, window_s=3600).lane_of(
        body(model="x/realtime", modalities=["text", "audio"])
    )
    assert lane is Lane.DISCOUNT
    assert reasons == [
        "the batch's completion_window is shorter than 24h",
        "model x/realtime has no batch endpoint in the catalog",
        "the Batch API does not accept modalities",
    ]


def test_realtime_is_taken_as_asked() -> None:
    assert policy(Lane.REALTIME).lane_of(body()) == (Lane.REALTIME, [])


def test_the_tenant_default_model_counts_for_a_line_without_one() -> None:
    line = {"messages": [{"role": "user", "content": "hi"}]}
    chosen = policy(Lane.AUTO, default_model="openrouter/openai/gpt-4o-mini")
    assert chosen.lane_of(line) == (Lane.DISCOUNT, [])
    assert policy(Lane.AUTO).lane_of(line) == (Lane.REALTIME, [])


def test_batch_variant_drops_the_openrouter_prefix() -> None:
    assert batch_variant("openrouter/openai/gpt-4o") == "openai/gpt-4o:batch"
