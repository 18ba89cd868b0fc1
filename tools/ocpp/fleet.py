#!/usr/bin/env python3
"""Many simulated OCPP chargers in one process, to load an OCPP gateway.

Each is tools/ocpp/charger.py's charger (boot, status, heartbeat, sessions
when central starts them), with ids <prefix><n>. Prints, every few
seconds, how many are connected.
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
    args = parser.parse_args()
    sim.event = lambda name, **fields: None  # quiet: thousands of chargers
    chargers = []
    for n in range(1, args.count + 1):
        one = argparse.Namespace(url=args.url, id=f"{args.prefix}{n:05d}", power_kw=11.0,
                                 meter_start_wh=1000.0, meter_interval=5.0,
                                 session_seconds=args.session_seconds, control="", cafile=None,
                                 certfile=None, keyfile=None, password="")
        chargers.append(sim.Charger(one))
    tasks = []
    for i, c in enumerate(chargers):
        tasks += [asyncio.ensure_future(c.connection_loop()), asyncio.ensure_future(c.meter_loop())]
        if (i + 1) % max(1, int(args.ramp_per_second / 10)) == 0:
            await asyncio.sleep(0.1)
    while True:
        connected = sum(1 for c in chargers if c.conn is not None)
        booted = sum(1 for c in chargers if c.booted)
        print(json.dumps({"connected": connected, "booted": booted}), flush=True)
        await asyncio.sleep(5)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
