"""CPU per callback of a signed SMS Gateway for Android `sms:received` webhook against an Africa's
Talking SMS callback, in one run of one `ewg serve`: the same texts, the same load, turns alternated.

    .venv/bin/python bench/bench_webhook.py [--connections 16] [--seconds 5] [--rounds 3] [--demo-gazetteer]

Both kinds are posted by the same aiohttp load generator (wrk cannot sign a webhook), each request
with a message id and sender of its own; the webhooks are signed before the clock starts. The gateway
is the real `ewg serve` in production mode (bench/harness.py), its confirmations held by the fake
provider as in bench_ingest.py, so that only the callbacks are measured. The figure is the server's
CPU time (all threads) over the callbacks it answered, per kind; target: the webhook within 20% of
the Africa's Talking callback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from bench_ingest import stored_counts  # noqa: E402

from gateway.providers.africastalking_forms import inbound_sms_form  # noqa: E402
from gateway.providers.android_fake import signed_webhook  # noqa: E402

SIGNING_KEY = "bench-phone-signing-key-0123456789"
WARM_UP_SECONDS = 2
Request = harness.Request


def africastalking_requests(texts: list[str], run: str, phones: str, count: int) -> Callable[[int], Request]:
    """`count` callback forms encoded now, as the webhooks are signed now: the client's work per
    request is the same for both kinds."""
    now = datetime.now(UTC)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    encoded = [(urlencode(inbound_sms_form(f"+227{phones}{n % 1_000_000:06d}", texts[n % len(texts)],
                                           received_at=now, message_id=f"{run}-{n}")).encode(), form)
               for n in range(count)]
    return lambda n: encoded[n % count]


def webhook_requests(texts: list[str], run: str, phones: str, count: int) -> Callable[[int], Request]:
    """`count` signed webhooks made now (the gateway accepts a signature for 5 minutes), each with an
    event id of its own; a turn that used them all would post duplicates, which the stored count shows."""
    received_at = datetime.now(UTC).isoformat()
    signed = [signed_webhook(SIGNING_KEY, "sms:received", {
        "messageId": f"m{n}", "message": texts[n % len(texts)], "phoneNumber": f"+227{phones}{n % 1_000_000:06d}",
        "simNumber": 1, "receivedAt": received_at}, event_id=f"{run}-{n}") for n in range(count)]
    return lambda n: signed[n % count]


async def measured(pid: int, url: str, connections: int, seconds: float,
                   requests: Callable[[int], Request]) -> harness.LoadResult:
    cpu_before = harness.cpu_seconds(pid)
    result = await harness.post_for(url, connections, seconds, requests)
    return dataclasses.replace(result, cpu_seconds=harness.cpu_seconds(pid) - cpu_before)


def per_callback_us(result: harness.LoadResult) -> float:
    return result.cpu_seconds / result.requests * 1e6


async def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--connections", type=int, default=16)
    options.add_argument("--seconds", type=float, default=5)
    options.add_argument("--rounds", type=int, default=3, help="at most 5 (a sender prefix per kind and round)")
    options.add_argument("--demo-gazetteer", action="store_true", help="skip importing ../shared/data")
    args = options.parse_args()
    print(f"machine: {harness.machine()}")
    folder = Path(tempfile.mkdtemp(prefix="ewg-bench-webhook-"))
    texts = harness.sms_texts(full_gazetteer=not args.demo_gazetteer)
    # more signed bodies than the webhook turns can use, each turn its own
    budget = int(args.seconds * 4000) + 1000
    try:
        async with harness.gateway_stack(harness.sqlite_url(folder), folder, full_gazetteer=not args.demo_gazetteer,
                                         extra_env={"EWG_ANDROID__SIGNING_KEY": SIGNING_KEY}) as stack:
            pid = stack.gateway.pid
            at_url = harness.callback_url(stack.gateway.url, "sms")
            phone_url = f"{stack.gateway.url}/callbacks/android"
            await harness.post_for(at_url, args.connections, WARM_UP_SECONDS, africastalking_requests(texts, "warm-at", "91", budget))
            await harness.post_for(phone_url, args.connections, WARM_UP_SECONDS,
                           webhook_requests(texts, "warm-phone", "92", budget))
            await stack.fake.set_mode("timeout")  # confirmations held: only the callbacks are measured
            results: dict[str, list[harness.LoadResult]] = {"africastalking": [], "android": []}
            for round_ in range(args.rounds):
                at = await measured(pid, at_url, args.connections, args.seconds,
                                    africastalking_requests(texts, f"at{round_}", f"8{2 * round_}", budget))
                phone = await measured(pid, phone_url, args.connections, args.seconds,
                                       webhook_requests(texts, f"phone{round_}", f"8{2 * round_ + 1}", budget))
                results["africastalking"].append(at)
                results["android"].append(phone)
                print(f"round {round_ + 1}: Africa's Talking SMS callback {at.line()}")
                print(f"round {round_ + 1}: signed phone webhook         {phone.line()}")
            await stack.fake.set_mode("ok")
            print(f"  ewg serve: parser {stack.parser_build}")
            for round_, (at, phone) in enumerate(zip(results["africastalking"], results["android"], strict=True)):
                stored_at = (await stored_counts(stack.database_url, f"at{round_}"))[0]
                stored_phone = (await stored_counts(stack.database_url, f"phone{round_}"))[0]
                print(f"  round {round_ + 1} stored: {stored_at:,} of {at.requests:,} callbacks, "
                      f"{stored_phone:,} of {phone.requests:,} webhooks")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    at_us = [per_callback_us(r) for r in results["africastalking"]]
    phone_us = [per_callback_us(r) for r in results["android"]]
    ratios = [p / a for p, a in zip(phone_us, at_us, strict=True)]
    print("CPU per callback, this run: Africa's Talking " + " / ".join(f"{us:,.0f}" for us in at_us)
          + " us, phone webhook " + " / ".join(f"{us:,.0f}" for us in phone_us) + " us")
    print("webhook / Africa's Talking per round: " + " / ".join(f"{r:.2f}" for r in ratios))
    # a round's CPU per callback moves with its rate (a group commit's fixed cost shared by fewer
    # callbacks): every round pooled is the figure
    pooled = {kind: sum(r.cpu_seconds for r in runs) / sum(r.requests for r in runs) * 1e6
              for kind, runs in results.items()}
    print(f"all rounds: Africa's Talking {pooled['africastalking']:,.0f} us, phone webhook {pooled['android']:,.0f} us "
          f"per callback; webhook / Africa's Talking {pooled['android'] / pooled['africastalking']:.2f} "
          f"(target <= 1.20)")


if __name__ == "__main__":
    asyncio.run(main())
