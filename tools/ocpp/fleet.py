#!/usr/bin/env python3
"""Many simulated OCPP chargers in one process, to load an OCPP gateway.

Each is tools/ocpp/charger.py's charger (boot, status, heartbeat, sessions
when central starts them), with ids <prefix><n>. With --card_prefix, each
also begins a transaction by itself once booted, with card <card_prefix><n>
(as a driver's swipe would), and sends MeterValues every --meter_interval
seconds while it runs. Prints, every few seconds, how many are connected,
booted and charging.
"""

import argparse
import asyncio
import copy
import json
import sys

import charger as sim


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--prefix", default="OCPPLOAD-")
    parser.add_argument("--session_seconds", type=float, default=30)
    parser.add_argument("--ramp_per_second", type=float, default=200,
                        help="how many chargers connect per second at the start")
    parser.add_argument("--card_prefix", default="",
                        help="each charger begins a transaction with card <card_prefix><n>")
    parser.add_argument("--meter_interval", type=float, default=5.0)
    args = parser.parse_args()
    sim.event = lambda name, **fields: None  # quiet: thousands of chargers
    chargers = []
    for n in range(1, args.count + 1):
        one = argparse.Namespace(url=args.url, id=f"{args.prefix}{n:05d}", power_kw=11.0,
                                 meter_start_wh=1000.0, meter_interval=args.meter_interval,
                                 session_seconds=args.session_seconds, control="", cafile=None,
                                 certfile=None, keyfile=None, password="")
        chargers.append(sim.Charger(one))

    async def charge(c, card):
        while not c.booted:
            await asyncio.sleep(0.5)
        await c.start_transaction(card)

    tasks = []
    for i, c in enumerate(chargers):
        tasks += [asyncio.ensure_future(c.connection_loop()), asyncio.ensure_future(c.meter_loop())]
        if args.card_prefix:
            tasks.append(asyncio.ensure_future(charge(c, f"{args.card_prefix}{i + 1:05d}")))
        if (i + 1) % max(1, int(args.ramp_per_second / 10)) == 0:
            await asyncio.sleep(0.1)
    while True:
        connected = sum(1 for c in chargers if c.conn is not None)
        booted = sum(1 for c in chargers if c.booted)
        charging = sum(1 for c in chargers if c.tx is not None and c.tx.get("id") is not None)
        print(json.dumps({"connected": connected, "booted": booted, "charging": charging}),
              flush=True)
        await asyncio.sleep(5)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
