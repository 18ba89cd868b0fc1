#include "central/registry.h"

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"

namespace evnet {

void Registry::Restore(const v1::CpRegistryRecord& record) {
  DoRestore(record);
  Notify();
}

void Registry::DoRestore(const v1::CpRegistryRecord& record) {
  absl::MutexLock lock(&mu_);
  const std::string& id = record.info().cp_id();
  auto [it, inserted] = entries_.try_emplace(id);
  if (inserted || !it->second.seen.link_up) it->second.info = record.info();
  it->second.persisted = record.info();
  it->second.seen.stopped_by_operator = record.stopped_by_operator();
  ChangedLocked(it);
  // A CP known from Kafka starts as what it is until its monitor is back
  // (DISCONNECTED), not as a change for the sweep to announce: a restart
  // of central is not thousands of CPs going away.
  if (inserted) it->second.swept = it->second.published;
}

std::vector<v1::CpRegistryRecord> Registry::FinishRestore() {
  absl::MutexLock lock(&mu_);
  restored_ = true;
  std::vector<v1::CpRegistryRecord> records;
  for (auto& [id, entry] : entries_) {
    if (entry.info.SerializeAsString() == entry.persisted.SerializeAsString()) continue;
    entry.persisted = entry.info;
    records.push_back(RecordLocked(entry));
  }
  return records;
}

std::optional<v1::CpRegistryRecord> Registry::Register(const v1::ChargingPointInfo& info,
                                                       uint64_t link_id) {
  std::optional<v1::CpRegistryRecord> record = DoRegister(info, link_id);
  Notify();
  return record;
}

std::optional<v1::CpRegistryRecord> Registry::DoRegister(const v1::ChargingPointInfo& info,
                                                         uint64_t link_id) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = entries_.try_emplace(info.cp_id());
  Entry& entry = it->second;
  // A monitor may register before it has heard from its engine: keep what
  // is known of location, price and power.
  v1::ChargingPointInfo merged = entry.info;
  merged.set_cp_id(info.cp_id());
  if (!info.location().empty()) merged.set_location(info.location());
  if (info.price_eur_per_kwh() > 0) merged.set_price_eur_per_kwh(info.price_eur_per_kwh());
  if (info.power_kw() > 0) merged.set_power_kw(info.power_kw());
  // What its engine says (an info with its power is the engine's), so that
  // an engine replaced by an earlier version stops being sent keys.
  if (info.power_kw() > 0 || info.telemetry_mac()) merged.set_telemetry_mac(info.telemetry_mac());
  // What the CP is, as its latest link says: a charger behind an OCPP
  // gateway takes the operator's operations; a monitor, none.
  merged.set_charger_operations(info.charger_operations());
  entry.info = merged;
  entry.seen.link_up = true;
  if (link_id != 0) entry.link_id = link_id;
  ChangedLocked(it);
  // As for a CP known from Kafka: a new CP shows DISCONNECTED until its
  // first report, which is what announces it; it has not gone anywhere.
  if (inserted) entry.swept = entry.published;
  if (!restored_ || merged.SerializeAsString() == entry.persisted.SerializeAsString()) {
    return std::nullopt;
  }
  entry.persisted = merged;
  return RecordLocked(entry);
}

void Registry::LinkClosed(const std::string& cp_id, uint64_t link_id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(cp_id);
    if (it == entries_.end()) return;
    if (link_id != 0 && it->second.link_id != link_id) return;
    it->second.seen.link_up = false;
    it->second.supply.Clear();
    ChangedLocked(it);
  }
  Notify();
}

namespace {

bool SameSupply(const v1::SupplySnapshot& a, const v1::SupplySnapshot& b) {
  return a.session_id() == b.session_id() && a.driver_id() == b.driver_id() &&
         a.energy_kwh() == b.energy_kwh() && a.amount_eur() == b.amount_eur() &&
         a.power_kw() == b.power_kw();
}

}  // namespace

void Registry::Report(const std::string& cp_id, const v1::HealthReport& report) {
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(cp_id);
    if (it == entries_.end()) return;
    Entry& entry = it->second;
    const absl::Time now = clock_.Now();
    const bool same = entry.seen.engine_ok == report.engine_ok() &&
                      entry.seen.engine_state == report.engine_state() &&
                      SameSupply(entry.supply, report.supply()) &&
                      DeriveStatus(entry.seen, now, monitor_timeout_) == entry.published;
    entry.seen.last_report = now;
    entry.seen.engine_ok = report.engine_ok();
    entry.seen.engine_state = report.engine_state();
    entry.supply = report.supply();
    entry.pending_results = {report.pending_results().begin(), report.pending_results().end()};
    // The same report again (most of them) changes nothing anyone sees.
    if (same && DeriveStatus(entry.seen, now, monitor_timeout_) == entry.published) return;
    ChangedLocked(it);
  }
  Notify();
}

absl::StatusOr<v1::CpRegistryRecord> Registry::SetStopped(const std::string& cp_id,
                                                          bool stopped) {
  absl::StatusOr<v1::CpRegistryRecord> record = DoSetStopped(cp_id, stopped);
  if (record.ok()) Notify();
  return record;
}

absl::StatusOr<v1::CpRegistryRecord> Registry::DoSetStopped(const std::string& cp_id,
                                                                bool stopped) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(cp_id);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat(cp_id, " is not a known charging point"));
  }
  it->second.seen.stopped_by_operator = stopped;
  ChangedLocked(it);
  return RecordLocked(it->second);
}

bool Registry::Known(const std::string& cp_id) const {
  absl::MutexLock lock(&mu_);
  return entries_.count(cp_id) > 0;
}

v1::CpStatus Registry::Status(const std::string& cp_id) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(cp_id);
  if (it == entries_.end()) return v1::CP_STATUS_UNSPECIFIED;
  return DeriveStatus(it->second.seen, clock_.Now(), monitor_timeout_);
}

absl::StatusOr<v1::ChargingPoint> Registry::Get(const std::string& cp_id) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(cp_id);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat(cp_id, " is not a known charging point"));
  }
  return ToProtoLocked(it->second);
}

std::vector<v1::ChargingPoint> Registry::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::ChargingPoint> out;
  for (const auto& [id, entry] : entries_) out.push_back(ToProtoLocked(entry));
  return out;
}

std::vector<v1::ChargingPoint> Registry::ListAfter(const std::string& after, size_t max) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::ChargingPoint> out;
  for (auto it = entries_.upper_bound(after); it != entries_.end() && out.size() < max; ++it) {
    out.push_back(ToProtoLocked(it->second));
  }
  return out;
}

std::map<v1::CpStatus, int> Registry::CountByStatus() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  std::map<v1::CpStatus, int> counts;
  for (const auto& [id, entry] : entries_) ++counts[DeriveStatus(entry.seen, now, monitor_timeout_)];
  return counts;
}

size_t Registry::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

std::vector<std::string> Registry::Ids() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [id, entry] : entries_) out.push_back(id);
  return out;
}

std::vector<StatusChange> Registry::Sweep() {
  std::vector<StatusChange> changes;
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    // Silences first, so that a monitor gone quiet is among the changes.
    while (!silences_.empty() && silences_.top().at < now) {
      const Entries::iterator it = silences_.top().entry;
      silences_.pop();
      it->second.watched = false;
      if (DeriveStatus(it->second.seen, now, monitor_timeout_) != it->second.published) {
        ChangedLocked(it);  // DISCONNECTED: not watched again until it reports
        changed = true;
      } else {
        WatchLocked(it);  // it reported meanwhile: due again from that report
      }
    }
    for (auto c = by_change_.upper_bound(swept_version_); c != by_change_.end(); ++c) {
      Entry& entry = entries_.at(c->second);
      if (entry.published == entry.swept) continue;
      changes.push_back({c->second, entry.swept, entry.published});
      entry.swept = entry.published;
    }
    swept_version_ = version_;
  }
  if (changed) Notify();
  return changes;
}

void Registry::ChangedLocked(Entries::iterator it) {
  Entry& entry = it->second;
  if (entry.changed != 0) by_change_.erase(entry.changed);
  entry.changed = ++version_;
  by_change_[entry.changed] = it->first;
  entry.published = DeriveStatus(entry.seen, clock_.Now(), monitor_timeout_);
  WatchLocked(it);
}

void Registry::WatchLocked(Entries::iterator it) {
  Entry& entry = it->second;
  if (entry.watched || entry.published == v1::CP_STATUS_DISCONNECTED) return;
  entry.watched = true;
  silences_.push({entry.seen.last_report + monitor_timeout_, it});
}

void Registry::SetChangeListener(std::function<void()> listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

void Registry::Notify() const {
  absl::ReaderMutexLock lock(&listener_mu_);
  if (listener_) listener_();
}

std::optional<std::pair<uint64_t, v1::ChargingPoint>> Registry::NextChange(uint64_t seq) const {
  absl::MutexLock lock(&mu_);
  auto it = by_change_.upper_bound(seq);
  if (it == by_change_.end()) return std::nullopt;
  return std::make_pair(it->first, ToProtoLocked(entries_.at(it->second)));
}

uint64_t Registry::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

uint64_t Registry::WaitForChange(uint64_t seen, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return version_ > seen; };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  return version_;
}

v1::ChargingPoint Registry::ToProtoLocked(const Entry& entry) const {
  v1::ChargingPoint cp;
  *cp.mutable_info() = entry.info;
  cp.set_status(DeriveStatus(entry.seen, clock_.Now(), monitor_timeout_));
  cp.set_stopped_by_operator(entry.seen.stopped_by_operator);
  if (cp.status() == v1::CP_STATUS_SUPPLYING) *cp.mutable_supply() = entry.supply;
  if (entry.seen.last_report != absl::InfinitePast()) {
    *cp.mutable_last_report_at() = ToProto(entry.seen.last_report);
  }
  return cp;
}

v1::CpRegistryRecord Registry::RecordLocked(const Entry& entry) const {
  v1::CpRegistryRecord record;
  *record.mutable_info() = entry.info;
  record.set_stopped_by_operator(entry.seen.stopped_by_operator);
  *record.mutable_updated_at() = ToProto(clock_.Now());
  return record;
}

std::vector<CpReport> Registry::Reports() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  std::vector<CpReport> reports;
  for (const auto& [id, entry] : entries_) {
    const v1::CpStatus status = DeriveStatus(entry.seen, now, monitor_timeout_);
    if (status == v1::CP_STATUS_DISCONNECTED) continue;
    reports.push_back({id, status, entry.supply.session_id(), entry.pending_results});
  }
  return reports;
}

}  // namespace evnet
