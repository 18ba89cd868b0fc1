#!/usr/bin/env python3
"""A simulated OCPP 1.6J charger, made with the `ocpp` package from PyPI.

It connects to ws(s)://.../ocpp/<id> (subprotocol ocpp1.6), boots, reports
its status, heartbeats, and answers RemoteStartTransaction,
RemoteStopTransaction and ChangeAvailability as a charger does: a remote
start becomes StartTransaction, MeterValues every --meter_interval seconds
and, after --session_seconds (0: never), StopTransaction. While it is
offline it keeps its transaction messages, with their own timestamps, and
sends them in order when it is back (OCPP 1.6, section 3.7).

Every frame the central system sends it is checked against the official
OCPP 1.6 JSON schemas that the `ocpp` package ships: a failure prints a
"schema_violation" event. Events are JSON lines on stdout.

Tests steer it through --control FILE, one command per line appended:
  offline | online          drop the WebSocket and stay away / come back
  fault | recover           StatusNotification Faulted (the transaction stops) / Available
  stop                      the driver stops the transaction at the charger
  repeat                    send the messages kept offline twice when back
  url URL                   connect to URL from now on (another gateway)
  raw TEXT                  send TEXT as a frame; the answer is a "raw_answer" event
  garble [ACTION]           answer the central system's next CALL (of ACTION, if given)
                            with a payload its schema does not allow ({"status": 42})
  swipe TAG [N]             a card at connector N's reader (1 unless given): Authorize
                            (offline: its local authorization list), and if Accepted, a
                            transaction on connector N
  lose-stop                 the next transaction's StopTransaction is never sent (a charger
                            that gave up on it after its TransactionMessageAttempts)
  begin TAG [N]             a transaction begun with TAG on connector N without asking (a
                            charger that admits cards from its own list, or while offline)

With --connectors N it has N connectors, each reporting its own status; one
transaction runs at a time, on the connector it was begun on.

It answers the operator's operations too: Reset, UnlockConnector (connector
1 unlocks), Get/ChangeConfiguration (HeartbeatInterval and
MeterValueSampleInterval may change, NumberOfConnectors is read-only),
TriggerMessage (StatusNotification, Heartbeat, MeterValues), ClearCache and DataTransfer
(vendor "evnet-test" only). It keeps the local authorization list the central
system sends (GetLocalListVersion, SendLocalList Full and Differential).
"""

import argparse
import asyncio
import base64
import json
import os
import pathlib
import ssl
import sys
import time
from datetime import datetime, timezone

import jsonschema
import ocpp.v16
import websockets
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

SCHEMAS = pathlib.Path(ocpp.v16.__file__).parent / "schemas"


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(name, **fields):
    print(json.dumps({"event": name, **fields}), flush=True)


class Schemas:
    """Validates frames against ocpp's JSON schemas, by action."""

    def __init__(self):
        self.cache = {}
        self.validated = 0

    def check(self, action, payload, response):
        name = f"{action}Response" if response else action
        if name not in self.cache:
            with open(SCHEMAS / f"{name}.json") as f:
                self.cache[name] = jsonschema.Draft4Validator(json.load(f))
        errors = [e.message for e in self.cache[name].iter_errors(payload)]
        if errors:
            event("schema_violation", action=name, payload=payload, errors=errors)
        else:
            self.validated += 1
            event("validated", action=name, count=self.validated)


class Connection(ocpp.v16.ChargePoint):
    """One WebSocket session of the charger."""

    def __init__(self, sim, ws):
        super().__init__(sim.args.id, ws, response_timeout=5)
        self.sim = sim
        self.sent = {}  # our CALL ids -> action, to check the answers
        self.raw_waiting = {}

    async def route_message(self, raw):
        frame = json.loads(raw)
        kind = frame[0]
        if kind == 2:
            self.sim.schemas.check(frame[2], frame[3], response=False)
        elif kind == 3 and frame[1] in self.sent:
            self.sim.schemas.check(self.sent.pop(frame[1]), frame[2], response=True)
        elif kind == 4:
            self.sent.pop(frame[1], None)
            if not (isinstance(frame[2], str) and isinstance(frame[3], str)):
                event("schema_violation", action="CALLERROR", payload=frame, errors=["bad CALLERROR"])
        if frame[1] in self.raw_waiting:
            self.raw_waiting.pop(frame[1]).set_result(frame)
            return
        if kind == 2 and self.sim.garble is not None and self.sim.garble in ("", frame[2]):
            self.sim.garble = None
            event("garbled", action=frame[2])
            await self._connection.send(json.dumps([3, frame[1], {"status": 42}]))
            return
        await super().route_message(raw)

    async def _send(self, message):
        frame = json.loads(message)
        if frame[0] == 2:
            self.sent[frame[1]] = frame[2]
        await super()._send(message)

    async def raw(self, text):
        try:
            unique_id = json.loads(text)[1]
        except Exception:
            unique_id = "-1"
        waiter = asyncio.get_running_loop().create_future()
        self.raw_waiting[unique_id if isinstance(unique_id, str) else "-1"] = waiter
        await self._connection.send(text)
        try:
            answer = await asyncio.wait_for(waiter, 5)
            event("raw_answer", sent=text, frame=answer)
        except asyncio.TimeoutError:
            event("raw_answer", sent=text, frame=None)

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, connector_id=None, **_):
        connector = connector_id or 1
        if (self.sim.status_of(connector) != "Available" or self.sim.tx is not None
                or connector > self.sim.args.connectors):
            event("remote_start", id_tag=id_tag, connector_id=connector, accepted=False)
            return call_result.RemoteStartTransaction(status="Rejected")
        event("remote_start", id_tag=id_tag, connector_id=connector, accepted=True)
        asyncio.ensure_future(self.sim.start_transaction(id_tag, connector))
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id, **_):
        tx = self.sim.tx
        if tx is None or tx.get("id") != transaction_id:
            return call_result.RemoteStopTransaction(status="Rejected")
        asyncio.ensure_future(self.sim.stop_transaction("Remote"))
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.change_availability)
    def on_change_availability(self, connector_id, type, **_):
        event("availability", type=type)
        if self.sim.tx is not None:
            self.sim.wanted_availability = type
            return call_result.ChangeAvailability(status="Scheduled")
        asyncio.ensure_future(self.sim.set_status("Unavailable" if type == "Inoperative" else "Available"))
        return call_result.ChangeAvailability(status="Accepted")


    # --- the operator's operations ------------------------------------

    @on(Action.reset)
    def on_reset(self, type, **_):
        event("reset", type=type)
        return call_result.Reset(status="Accepted")

    @on(Action.unlock_connector)
    def on_unlock(self, connector_id, **_):
        event("unlock", connector_id=connector_id)
        unlocked = 1 <= connector_id <= self.sim.args.connectors
        return call_result.UnlockConnector(status="Unlocked" if unlocked else "UnlockFailed")

    @on(Action.get_configuration)
    def on_get_configuration(self, key=None, **_):
        config = self.sim.configuration
        asked = key if key else list(config)
        known = [{"key": k, "readonly": config[k][1], "value": config[k][0]} for k in asked if k in config]
        return call_result.GetConfiguration(configuration_key=known,
                                            unknown_key=[k for k in asked if k not in config])

    @on(Action.change_configuration)
    def on_change_configuration(self, key, value, **_):
        config = self.sim.configuration
        if key not in config:
            return call_result.ChangeConfiguration(status="NotSupported")
        if config[key][1]:
            return call_result.ChangeConfiguration(status="Rejected")
        config[key] = (value, False)
        event("configuration", key=key, value=value)
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.trigger_message)
    def on_trigger(self, requested_message, connector_id=None, **_):
        event("trigger", requested_message=requested_message)
        if requested_message == "StatusNotification" and connector_id:
            asyncio.ensure_future(self.sim.report_status(connector_id))
        elif requested_message == "StatusNotification":
            asyncio.ensure_future(self.sim.report_all())
        elif requested_message == "Heartbeat":
            asyncio.ensure_future(self.sim.send(call.Heartbeat()))
        elif requested_message == "MeterValues" and self.sim.tx is not None:
            asyncio.ensure_future(self.sim.meter_values())
        else:
            return call_result.TriggerMessage(status="NotImplemented")
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_):
        return call_result.GetLocalListVersion(list_version=self.sim.local_list_version)

    @on(Action.send_local_list)
    def on_send_local_list(self, list_version, update_type, local_authorization_list=None, **_):
        if update_type == "Full":
            self.sim.local_list = {}
        for entry in local_authorization_list or []:
            info = entry.get("id_tag_info") or entry.get("idTagInfo")
            tag = (entry.get("id_tag") or entry.get("idTag")).upper()
            if info is None:
                self.sim.local_list.pop(tag, None)
            else:
                self.sim.local_list[tag] = info["status"]
        self.sim.local_list_version = list_version
        event("local_list", version=list_version, update_type=update_type,
              cards=sorted(self.sim.local_list.items()))
        return call_result.SendLocalList(status="Accepted")

    @on(Action.clear_cache)
    def on_clear_cache(self, **_):
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id, message_id=None, data=None, **_):
        if vendor_id != "evnet-test":
            return call_result.DataTransfer(status="UnknownVendorId")
        return call_result.DataTransfer(status="Accepted", data=f"echo {data}")


class Charger:
    def __init__(self, args):
        self.args = args
        self.schemas = Schemas()
        self.conn = None
        self.online = True
        self.booted = False
        self.connector = 1  # the connector `status` is of: the last transaction's
        self.status = "Available"
        self.error_code = "NoError"
        self.meter_wh = args.meter_start_wh
        self.tx = None  # {"id": int or None, "id_tag", "meter_start", "started"}
        self.kept = []  # transaction messages not yet answered: (payload maker, transaction)
        self.flushing = False
        self.repeat = False
        self.wanted_availability = None
        self.changed = asyncio.Event()
        # key -> (value, readonly), as GetConfiguration and ChangeConfiguration see it
        self.configuration = {
            "HeartbeatInterval": ("60", False),
            "MeterValueSampleInterval": (str(args.meter_interval), False),
            "NumberOfConnectors": (str(args.connectors), True),
        }
        self.garble = None  # the next answer (to this action; "": any) breaks its schema
        self.local_list = {}  # id tag (upper case) -> its status, as SendLocalList gave it
        self.local_list_version = 0
        self.lose_stop = False

    # --- sending ----------------------------------------------------------

    async def send(self, payload):
        """A CALL now, or None when offline (then it is not sent at all)."""
        if self.conn is None:
            return None
        try:
            return await self.conn.call(payload)
        except Exception as e:  # a lost connection, a timeout
            event("call_failed", action=type(payload).__name__, error=repr(e))
            return None

    async def send_kept(self, make, tx):
        """A transaction message: kept, in order, until it is answered."""
        self.kept.append((make, tx))
        await self.flush()

    async def flush(self):
        if self.flushing:
            return  # the running flush sends it
        self.flushing = True
        try:
            await self.flush_kept()
        finally:
            self.flushing = False

    async def flush_kept(self):
        repeat, self.repeat = self.repeat, False
        while self.kept and self.conn is not None:
            make, tx = self.kept[0]
            payload = make()
            response = await self.send(payload)
            if response is None:
                return
            if repeat:
                again = await self.send(payload)
                event("repeated", action=type(payload).__name__, answered=again is not None)
            self.kept.pop(0)
            if isinstance(payload, call.StartTransaction):
                self.tx_started(response, tx)
            if isinstance(payload, call.StopTransaction):
                event("stop_answered", transaction_id=payload.transaction_id,
                      status=(response.id_tag_info or {}).get("status"))

    def tx_started(self, response, tx):
        status = response.id_tag_info["status"]
        tx["id"] = response.transaction_id
        event("started", transaction_id=response.transaction_id, status=status)
        if status != "Accepted" and self.tx is tx:
            asyncio.ensure_future(self.stop_transaction("DeAuthorized"))

    def status_of(self, connector):
        return self.status if connector == self.connector else "Available"

    async def set_status(self, status, error_code="NoError"):
        self.status, self.error_code = status, error_code
        await self.report_status(self.connector)

    async def end_status(self, connector, status):
        """The end of a transaction on `connector`, which may no longer be the
        current one (a transaction began on another meanwhile)."""
        if connector == self.connector:
            await self.set_status(status)
        else:
            await self.send(call.StatusNotification(connector_id=connector, error_code="NoError",
                                                    status=status, timestamp=now_iso()))

    async def report_status(self, connector):
        error_code = self.error_code if connector == self.connector else "NoError"
        await self.send(call.StatusNotification(connector_id=connector, error_code=error_code,
                                                status=self.status_of(connector),
                                                timestamp=now_iso()))

    async def report_all(self):
        for connector in range(1, self.args.connectors + 1):
            await self.report_status(connector)

    # --- transactions -----------------------------------------------------

    async def start_transaction(self, id_tag, connector=1):
        if connector != self.connector:
            self.connector, self.status, self.error_code = connector, "Available", "NoError"
        self.tx = {"id": None, "id_tag": id_tag, "meter_start": int(self.meter_wh),
                   "started": time.monotonic(), "last_meter": time.monotonic(),
                   "connector": connector}
        timestamp = now_iso()
        tx = self.tx
        await self.set_status("Charging")
        await self.send_kept(lambda: call.StartTransaction(
            connector_id=tx["connector"], id_tag=id_tag, meter_start=tx["meter_start"],
            timestamp=timestamp), tx)

    async def stop_transaction(self, reason):
        tx = self.tx
        if tx is None:
            return
        self.tx = None
        meter_stop = int(self.meter_wh)
        timestamp = now_iso()
        event("stopped", reason=reason, meter_start=tx["meter_start"], meter_stop=meter_stop,
              online=self.conn is not None)
        if self.lose_stop:
            self.lose_stop = False
            event("stop_lost", transaction_id=tx["id"])
        else:
            await self.send_kept(lambda: call.StopTransaction(
                meter_stop=meter_stop, timestamp=timestamp, transaction_id=tx["id"], reason=reason,
                id_tag=tx["id_tag"]), tx)
        if tx["connector"] != self.connector or self.status == "Charging":
            if self.wanted_availability == "Inoperative":
                await self.end_status(tx["connector"], "Unavailable")
            else:
                await self.end_status(tx["connector"], "Finishing")
                await self.end_status(tx["connector"], "Available")
        self.wanted_availability = None

    async def meter_values(self):
        tx = self.tx
        energy, power = int(self.meter_wh), int(self.args.power_kw * 1000)
        timestamp = now_iso()
        await self.send_kept(lambda: call.MeterValues(
            connector_id=tx["connector"], transaction_id=tx["id"],
            meter_value=[{"timestamp": timestamp, "sampledValue": [
                {"value": str(energy), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": str(power), "measurand": "Power.Active.Import", "unit": "W"}]}]), tx)

    async def meter_loop(self):
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            if self.tx is not None and self.status == "Charging":
                self.meter_wh += self.args.power_kw * 1000 * (now - last) / 3600
                if now - self.tx["last_meter"] >= self.args.meter_interval:
                    self.tx["last_meter"] = now
                    await self.meter_values()
                if self.args.session_seconds > 0 and now - self.tx["started"] >= self.args.session_seconds:
                    await self.stop_transaction("EVDisconnected")
            last = now

    async def heartbeat_loop(self, interval):
        while self.conn is not None:
            await asyncio.sleep(interval)
            await self.send(call.Heartbeat())

    # --- the connection ---------------------------------------------------

    def connect_options(self):
        options = {"subprotocols": ["ocpp1.6"], "open_timeout": 5}
        if self.args.url.startswith("wss:"):
            context = ssl.create_default_context(cafile=self.args.cafile)
            if self.args.certfile:
                context.load_cert_chain(self.args.certfile, self.args.keyfile)
            options["ssl"] = context
        if self.args.password:
            token = base64.b64encode(f"{self.args.id}:{self.args.password}".encode()).decode()
            options["additional_headers"] = {"Authorization": f"Basic {token}"}
        return options

    async def session(self, ws):
        self.conn = Connection(self, ws)
        reader = asyncio.ensure_future(self.conn.start())
        event("connected")
        heartbeat = None
        try:
            if not self.booted:
                boot = await self.send(call.BootNotification(charge_point_model="evsim",
                                                             charge_point_vendor="evnet"))
                if boot is None:
                    return
                self.booted = True
                event("booted", status=boot.status, interval=boot.interval)
                heartbeat = asyncio.ensure_future(self.heartbeat_loop(min(boot.interval, 60)))
            else:
                heartbeat = asyncio.ensure_future(self.heartbeat_loop(60))
            await self.report_all()
            await self.flush()
            while self.online and not reader.done():
                self.changed.clear()
                await asyncio.wait([reader, asyncio.ensure_future(self.changed.wait())],
                                   return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.conn = None
            if heartbeat:
                heartbeat.cancel()
            reader.cancel()
            await ws.close()
            event("disconnected")

    async def connection_loop(self):
        backoff = 0.2
        while True:
            if not self.online:
                self.changed.clear()
                await self.changed.wait()
                continue
            try:
                async with websockets.connect(f"{self.args.url}/{self.args.id}",
                                              **self.connect_options()) as ws:
                    backoff = 0.2
                    await self.session(ws)
            except Exception as e:
                event("connect_failed", error=f"{type(e).__name__}: {e}")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def control_loop(self):
        if not self.args.control:
            return
        path = self.args.control
        position = 0
        while True:
            await asyncio.sleep(0.1)
            if not os.path.exists(path):
                continue
            with open(path) as f:
                f.seek(position)
                lines = f.read()
                position = f.tell()
            for line in lines.splitlines():
                await self.command(line.strip())

    async def command(self, line):
        event("command", line=line)
        verb, _, rest = line.partition(" ")
        if verb == "offline":
            self.online = False
            self.changed.set()
        elif verb == "online":
            self.online = True
            self.changed.set()
        elif verb == "fault":
            await self.set_status("Faulted", "GroundFailure")
            if self.tx is not None:
                await self.stop_transaction("EmergencyStop")
        elif verb == "recover":
            await self.set_status("Available")
        elif verb == "stop":
            await self.stop_transaction("Local")
        elif verb == "repeat":
            self.repeat = True
        elif verb == "lose-stop":
            self.lose_stop = True
        elif verb == "url":
            self.args.url = rest
        elif verb == "garble":
            self.garble = rest
        elif verb in ("swipe", "begin"):
            tag, _, connector = rest.partition(" ")
            connector = int(connector) if connector else 1
            if verb == "begin":
                if self.tx is None:
                    await self.start_transaction(tag, connector)
                return
            if self.conn is None:
                status = self.local_list.get(tag.upper())
                event("authorized", id_tag=tag, status=status, source="local_list")
            else:
                response = await self.send(call.Authorize(id_tag=tag))
                status = response.id_tag_info["status"] if response is not None else None
                event("authorized", id_tag=tag, status=status)
            if status == "Accepted" and self.tx is None:
                await self.start_transaction(tag, connector)
        elif verb == "raw" and self.conn is not None:
            await self.conn.raw(rest)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp",
                        help="the gateway's OCPP endpoint, without the chargeBoxId")
    parser.add_argument("--id", required=True, help="the chargeBoxId")
    parser.add_argument("--connectors", type=int, default=1)
    parser.add_argument("--power_kw", type=float, default=22.0)
    parser.add_argument("--meter_start_wh", type=float, default=1000.0)
    parser.add_argument("--meter_interval", type=float, default=1.0)
    parser.add_argument("--session_seconds", type=float, default=8.0)
    parser.add_argument("--control", default="")
    parser.add_argument("--cafile", default=None)
    parser.add_argument("--certfile", default=None)
    parser.add_argument("--keyfile", default=None)
    # Never on the command line, which every local user can read (ps).
    parser.add_argument("--password_file", default="",
                        help="file of the HTTP Basic password (OCPP security profile 2); "
                             "or env OCPP_PASSWORD")
    args = parser.parse_args()
    args.password = os.environ.get("OCPP_PASSWORD", "")
    if args.password_file:
        with open(args.password_file) as f:
            args.password = f.read().strip()
    charger = Charger(args)
    await asyncio.gather(charger.connection_loop(), charger.meter_loop(), charger.control_loop())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
