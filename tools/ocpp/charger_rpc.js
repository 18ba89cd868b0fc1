#!/usr/bin/env node
// A simulated OCPP 1.6J charger made with npm's `ocpp-rpc`: a second
// implementation nobody on this team wrote, beside tools/ocpp/charger.py
// (PyPI's `ocpp`), taking the same flags and --control commands and
// printing the same events (JSON lines on stdout), so that the same tests
// run with either.
//
// ocpp-rpc runs in strict mode: every CALL the gateway sends, and every
// answer to ours, is checked against the official OCPP 1.6 JSON schemas it
// ships; a failure prints a "schema_violation" event, a pass a "validated"
// one.
//
// It boots, reports its status, heartbeats, answers RemoteStart/Stop,
// ChangeAvailability, Reset, UnlockConnector, Get/ChangeConfiguration,
// TriggerMessage, ClearCache, DataTransfer, GetLocalListVersion and
// SendLocalList; keeps its transaction messages while offline and sends
// them in order when back. Control commands: offline | online | stop |
// fault | recover | swipe TAG [N] | begin TAG [N] | lose-stop | garble [ACTION] |
// raw TEXT. With --connectors=N it has N connectors, each reporting its own
// status; one transaction runs at a time, on the connector it began on.
'use strict';

const fs = require('fs');
const path = require('path');

const modules = process.env.EVNET_NODE_MODULES || path.join(process.env.HOME, '.cache/evnet/node/node_modules');
const { RPCClient, NOREPLY, createRPCError } = require(path.join(modules, 'ocpp-rpc'));

function flags() {
  const args = {
    url: 'ws://127.0.0.1:9000/ocpp', id: '', connectors: 1, power_kw: 22, meter_start_wh: 1000,
    meter_interval: 1, session_seconds: 8, control: '', cafile: '', certfile: '', keyfile: '',
    password_file: '',
  };
  for (const arg of process.argv.slice(2)) {
    const m = /^--([a-z_]+)=(.*)$/.exec(arg);
    if (!m || !(m[1] in args)) {
      console.error(`charger_rpc: unknown flag ${arg} (flags: --${Object.keys(args).join('=, --')}=)`);
      process.exit(2);
    }
    args[m[1]] = typeof args[m[1]] === 'number' ? Number(m[2]) : m[2];
  }
  if (!args.id) {
    console.error('charger_rpc: --id is required');
    process.exit(2);
  }
  return args;
}

// JSON as Python's json.dumps writes it (", " and ": "), like charger.py's events.
function pyJson(v) {
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pyJson(x)}`).join(', ')}}`;
  }
  return JSON.stringify(v === undefined ? null : v);
}
function event(name, fields = {}) {
  process.stdout.write(pyJson({ event: name, ...fields }) + '\n');
}
const now = () => new Date().toISOString();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Charger {
  constructor(args) {
    this.args = args;
    this.cli = null;       // the RPCClient of the current connection
    this.online = true;
    this.booted = false;
    this.connector = 1;    // the connector `status` is of: the last transaction's
    this.status = 'Available';
    this.errorCode = 'NoError';
    this.meterWh = args.meter_start_wh;
    this.tx = null;        // {id, idTag, meterStart, started, lastMeter}
    this.kept = [];        // transaction messages not yet answered: {method, make, tx}
    this.flushing = false;
    this.garble = null;  // the next answer (to this action; '': any) breaks its schema
    this.loseStop = false;
    this.wantedAvailability = null;
    this.localList = {};   // id tag (upper case) -> status
    this.localListVersion = 0;
    this.rawWaiting = new Map();  // message id of a frame sent with `raw` -> the frame
    this.configuration = {
      HeartbeatInterval: ['60', false],
      MeterValueSampleInterval: [String(args.meter_interval), false],
      NumberOfConnectors: [String(args.connectors), true],
    };
  }

  // --- sending ------------------------------------------------------------

  async send(method, params) {
    if (this.cli === null) return null;
    try {
      return await this.cli.call(method, params, { callTimeoutMs: 10000 });
    } catch (e) {
      event('call_failed', { action: method, error: String(e && e.message || e) });
      return null;
    }
  }

  async sendKept(method, make, tx) {
    this.kept.push({ method, make, tx });
    await this.flush();
  }

  async flush() {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.kept.length > 0 && this.cli !== null) {
        const { method, make, tx } = this.kept[0];
        const params = make();
        const response = await this.send(method, params);
        if (response === null) return;
        this.kept.shift();
        if (method === 'StartTransaction') this.txStarted(response, tx);
        if (method === 'StopTransaction') {
          event('stop_answered', { transaction_id: params.transactionId,
                                   status: (response.idTagInfo || {}).status || null });
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  txStarted(response, tx) {
    const status = response.idTagInfo.status;
    tx.id = response.transactionId;
    event('started', { transaction_id: response.transactionId, status });
    if (status !== 'Accepted' && this.tx === tx) this.stopTransaction('DeAuthorized');
  }

  statusOf(connector) {
    return connector === this.connector ? this.status : 'Available';
  }

  async setStatus(status, errorCode = 'NoError') {
    this.status = status;
    this.errorCode = errorCode;
    await this.reportStatus(this.connector);
  }

  // The end of a transaction on `connector`, which may no longer be the
  // current one (a transaction began on another meanwhile): reported for it.
  async endStatus(connector, status) {
    if (connector === this.connector) return this.setStatus(status);
    await this.send('StatusNotification', { connectorId: connector, errorCode: 'NoError', status,
                                            timestamp: now() });
  }

  async reportStatus(connector) {
    const errorCode = connector === this.connector ? this.errorCode : 'NoError';
    await this.send('StatusNotification', { connectorId: connector, errorCode,
                                            status: this.statusOf(connector), timestamp: now() });
  }

  async reportAll() {
    for (let connector = 1; connector <= this.args.connectors; ++connector) {
      await this.reportStatus(connector);
    }
  }

  // --- transactions -------------------------------------------------------

  async startTransaction(idTag, connector = 1) {
    if (connector !== this.connector) {
      this.connector = connector;
      this.status = 'Available';
      this.errorCode = 'NoError';
    }
    const tx = { id: null, idTag, meterStart: Math.trunc(this.meterWh), started: Date.now(),
                 lastMeter: Date.now(), connector };
    this.tx = tx;
    const timestamp = now();
    await this.setStatus('Charging');
    await this.sendKept('StartTransaction', () => ({
      connectorId: tx.connector, idTag, meterStart: tx.meterStart, timestamp }), tx);
  }

  async stopTransaction(reason) {
    const tx = this.tx;
    if (tx === null) return;
    this.tx = null;
    const meterStop = Math.trunc(this.meterWh);
    const timestamp = now();
    event('stopped', { reason, meter_start: tx.meterStart, meter_stop: meterStop,
                       online: this.cli !== null });
    if (this.loseStop) {
      this.loseStop = false;
      event('stop_lost', { transaction_id: tx.id });
    } else {
      await this.sendKept('StopTransaction', () => {
        const stop = { meterStop, timestamp, reason, idTag: tx.idTag };
        stop.transactionId = tx.id === null ? -1 : tx.id;
        return stop;
      }, tx);
    }
    if (tx.connector !== this.connector || this.status === 'Charging') {
      if (this.wantedAvailability === 'Inoperative') {
        await this.endStatus(tx.connector, 'Unavailable');
      } else {
        await this.endStatus(tx.connector, 'Finishing');
        await this.endStatus(tx.connector, 'Available');
      }
    }
    this.wantedAvailability = null;
  }

  async meterValues() {
    const tx = this.tx;
    if (tx === null) return;
    const energy = Math.trunc(this.meterWh);
    const power = Math.trunc(this.args.power_kw * 1000);
    const timestamp = now();
    await this.sendKept('MeterValues', () => ({
      connectorId: tx.connector, transactionId: tx.id === null ? undefined : tx.id,
      meterValue: [{ timestamp, sampledValue: [
        { value: String(energy), measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
        { value: String(power), measurand: 'Power.Active.Import', unit: 'W' }] }] }), tx);
  }

  async meterLoop() {
    let last = Date.now();
    for (;;) {
      await sleep(250);
      const t = Date.now();
      if (this.tx !== null && this.status === 'Charging') {
        this.meterWh += this.args.power_kw * 1000 * (t - last) / 3600000;
        if (t - this.tx.lastMeter >= this.args.meter_interval * 1000) {
          this.tx.lastMeter = t;
          this.meterValues();
        }
        if (this.args.session_seconds > 0 && t - this.tx.started >= this.args.session_seconds * 1000) {
          this.stopTransaction('EVDisconnected');
        }
      }
      last = t;
    }
  }

  // --- what the central system asks ---------------------------------------

  handlers() {
    const sim = this;
    return {
      RemoteStartTransaction({ params }) {
        const connector = params.connectorId || 1;
        const accepted = sim.statusOf(connector) === 'Available' && sim.tx === null &&
                         connector <= sim.args.connectors;
        event('remote_start', { id_tag: params.idTag, connector_id: connector, accepted });
        if (accepted) setImmediate(() => sim.startTransaction(params.idTag, connector));
        return { status: accepted ? 'Accepted' : 'Rejected' };
      },
      RemoteStopTransaction({ params }) {
        if (sim.tx === null || sim.tx.id !== params.transactionId) return { status: 'Rejected' };
        setImmediate(() => sim.stopTransaction('Remote'));
        return { status: 'Accepted' };
      },
      ChangeAvailability({ params }) {
        event('availability', { type: params.type });
        if (sim.tx !== null) {
          sim.wantedAvailability = params.type;
          return { status: 'Scheduled' };
        }
        setImmediate(() => sim.setStatus(params.type === 'Inoperative' ? 'Unavailable' : 'Available'));
        return { status: 'Accepted' };
      },
      Reset({ params }) {
        event('reset', { type: params.type });
        return { status: 'Accepted' };
      },
      UnlockConnector({ params }) {
        event('unlock', { connector_id: params.connectorId });
        const unlocked = params.connectorId >= 1 && params.connectorId <= sim.args.connectors;
        return { status: unlocked ? 'Unlocked' : 'UnlockFailed' };
      },
      GetConfiguration({ params }) {
        const asked = params.key && params.key.length > 0 ? params.key : Object.keys(sim.configuration);
        return {
          configurationKey: asked.filter((k) => k in sim.configuration)
            .map((k) => ({ key: k, readonly: sim.configuration[k][1], value: sim.configuration[k][0] })),
          unknownKey: asked.filter((k) => !(k in sim.configuration)),
        };
      },
      ChangeConfiguration({ params }) {
        const known = sim.configuration[params.key];
        if (known === undefined) return { status: 'NotSupported' };
        if (known[1]) return { status: 'Rejected' };
        sim.configuration[params.key] = [params.value, false];
        event('configuration', { key: params.key, value: params.value });
        return { status: 'Accepted' };
      },
      TriggerMessage({ params }) {
        event('trigger', { requested_message: params.requestedMessage });
        if (params.requestedMessage === 'StatusNotification' && params.connectorId) {
          setImmediate(() => sim.reportStatus(params.connectorId));
        } else if (params.requestedMessage === 'StatusNotification') {
          setImmediate(() => sim.reportAll());
        } else if (params.requestedMessage === 'Heartbeat') {
          setImmediate(() => sim.send('Heartbeat', {}));
        } else if (params.requestedMessage === 'MeterValues' && sim.tx !== null) {
          setImmediate(() => sim.meterValues());
        } else {
          return { status: 'NotImplemented' };
        }
        return { status: 'Accepted' };
      },
      ClearCache() {
        return { status: 'Accepted' };
      },
      DataTransfer({ params }) {
        if (params.vendorId !== 'evnet-test') return { status: 'UnknownVendorId' };
        return { status: 'Accepted', data: `echo ${params.data || ''}` };
      },
      GetLocalListVersion() {
        return { listVersion: sim.localListVersion };
      },
      SendLocalList({ params }) {
        if (params.updateType === 'Full') sim.localList = {};
        for (const entry of params.localAuthorizationList || []) {
          const tag = entry.idTag.toUpperCase();
          if (entry.idTagInfo === undefined) delete sim.localList[tag];
          else sim.localList[tag] = entry.idTagInfo.status;
        }
        sim.localListVersion = params.listVersion;
        event('local_list', { version: params.listVersion, update_type: params.updateType,
                              cards: Object.entries(sim.localList).sort() });
        return { status: 'Accepted' };
      },
    };
  }

  // --- the connection -----------------------------------------------------

  wsOpts() {
    if (!this.args.url.startsWith('wss:')) return {};
    const opts = { ca: fs.readFileSync(this.args.cafile), minVersion: 'TLSv1.2' };
    if (this.args.certfile) {
      opts.cert = fs.readFileSync(this.args.certfile);
      opts.key = fs.readFileSync(this.args.keyfile);
    }
    return opts;
  }

  password() {
    if (this.args.password_file) return fs.readFileSync(this.args.password_file, 'utf8').trim();
    return process.env.OCPP_PASSWORD || undefined;
  }

  async session() {
    const cli = new RPCClient({
      endpoint: this.args.url, identity: this.args.id, protocols: ['ocpp1.6'],
      strictMode: true, password: this.password(), reconnect: false, callTimeoutMs: 10000,
      wsOpts: this.wsOpts(),
    });
    // The answer to a frame sent with `raw` is to no call ocpp-rpc made.
    cli.on('badMessage', ({ buffer }) => {
      let frame = null;
      try { frame = JSON.parse(buffer.toString()); } catch (e) { return; }
      const sent = Array.isArray(frame) ? this.rawWaiting.get(frame[1]) : undefined;
      if (sent === undefined) return;
      this.rawWaiting.delete(frame[1]);
      event('raw_answer', { sent, frame });
    });
    cli.on('strictValidationFailure', ({ error }) => {
      event('schema_violation', { error: String(error && error.message || error) });
    });
    for (const [method, handle] of Object.entries(this.handlers())) {
      // A handler runs only for a CALL strict mode let through.
      cli.handle(method, (call) => {
        event('validated', { action: method });
        if (this.garble === '' || this.garble === method) {
          this.garble = null;
          event('garbled', { action: method });
          cli.sendRaw(JSON.stringify([3, call.messageId, { status: 42 }]));
          return NOREPLY;
        }
        return handle(call);
      });
    }
    cli.handle(({ method }) => {
      throw createRPCError('NotImplemented', `${method} is not implemented here`);
    });
    await cli.connect();
    this.cli = cli;
    event('connected');
    const closed = new Promise((resolve) => cli.once('close', resolve));
    try {
      if (!this.booted) {
        const boot = await this.send('BootNotification', { chargePointModel: 'evsim-rpc',
                                                          chargePointVendor: 'evnet' });
        if (boot === null) return;
        this.booted = true;
        event('booted', { status: boot.status, interval: boot.interval });
      }
      const heartbeat = setInterval(() => this.send('Heartbeat', {}), 60000);
      cli.once('close', () => clearInterval(heartbeat));
      await this.reportAll();
      await this.flush();
      await Promise.race([closed, new Promise((resolve) => { this.goOffline = resolve; })]);
    } finally {
      this.cli = null;
      this.goOffline = null;
      await cli.close({ force: true }).catch(() => {});
      event('disconnected');
    }
  }

  async connectionLoop() {
    let backoff = 200;
    for (;;) {
      if (!this.online) {
        await sleep(100);
        continue;
      }
      try {
        await this.session();
        backoff = 200;
      } catch (e) {
        event('connect_failed', { error: String(e && e.message || e) });
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  async controlLoop() {
    if (!this.args.control) return;
    let position = 0;
    for (;;) {
      await sleep(100);
      let text;
      try {
        const fd = fs.openSync(this.args.control, 'r');
        const size = fs.fstatSync(fd).size;
        const buffer = Buffer.alloc(Math.max(0, size - position));
        fs.readSync(fd, buffer, 0, buffer.length, position);
        fs.closeSync(fd);
        position = size;
        text = buffer.toString('utf8');
      } catch (e) {
        continue;  // not there yet
      }
      for (const line of text.split('\n')) {
        if (line.trim()) await this.command(line.trim());
      }
    }
  }

  async command(line) {
    event('command', { line });
    const [verb, ...words] = line.split(' ');
    const rest = words.join(' ');
    if (verb === 'offline') {
      this.online = false;
      if (this.goOffline) this.goOffline();
    } else if (verb === 'online') {
      this.online = true;
    } else if (verb === 'fault') {
      await this.setStatus('Faulted', 'GroundFailure');
      if (this.tx !== null) await this.stopTransaction('EmergencyStop');
    } else if (verb === 'recover') {
      await this.setStatus('Available');
    } else if (verb === 'stop') {
      await this.stopTransaction('Local');
    } else if (verb === 'lose-stop') {
      this.loseStop = true;
    } else if (verb === 'garble') {
      this.garble = rest;
    } else if (verb === 'swipe') {
      const [tag, n] = words;
      const connector = n ? Number(n) : 1;
      let status = null;
      if (this.cli === null) {
        status = this.localList[tag.toUpperCase()] || null;
        event('authorized', { id_tag: tag, status, source: 'local_list' });
      } else {
        const response = await this.send('Authorize', { idTag: tag });
        status = response === null ? null : response.idTagInfo.status;
        event('authorized', { id_tag: tag, status });
      }
      if (status === 'Accepted' && this.tx === null) await this.startTransaction(tag, connector);
    } else if (verb === 'raw' && this.cli !== null) {
      let id = '-1';
      try { id = String(JSON.parse(rest)[1]); } catch (e) { /* not JSON: answered with id -1 */ }
      this.rawWaiting.set(id, rest);
      this.cli.sendRaw(rest);
    } else if (verb === 'begin' && this.tx === null) {
      await this.startTransaction(words[0], words[1] ? Number(words[1]) : 1);
    }
  }
}

const charger = new Charger(flags());
charger.connectionLoop();
charger.meterLoop();
charger.controlLoop();
process.on('SIGTERM', () => process.exit(0));
