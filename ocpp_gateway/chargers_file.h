// The operator's chargers file (the gateway's --chargers): each charger's
// location, power and price, by chargeBoxId, over the gateway's defaults
// (its --location, --power_kw, --price_eur_per_kwh). JSON, as
// evnet.v1.OcppChargers writes it:
//
//   {"chargers": {"OCPP-001": {"location": "Lot A, bay 3",
//                              "priceEurPerKwh": 0.35, "powerKw": 22}}}
//
// Read at start (a bad file stops the gateway, saying why) and again
// whenever it changes (a bad edit is logged and the last good one kept).
// Not thread-safe: the gateway's network thread owns it.
#ifndef EVNET_OCPP_GATEWAY_CHARGERS_FILE_H_
#define EVNET_OCPP_GATEWAY_CHARGERS_FILE_H_

#include <ctime>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "evnet/v1/central.pb.h"

namespace evnet::ocpp {

class ChargersFile {
 public:
  // Reads `path` (empty: no file, every charger has the defaults).
  [[nodiscard]] static absl::StatusOr<ChargersFile> Open(const std::string& path,
                                                         const v1::ChargingPointInfo& defaults);

  // Reads the file again if it changed since; true if what it says changed.
  bool Reload();
  // `cp_id`'s figures: the file's over the defaults (a price of 0 given
  // there is free charging). A connector's CP without a line of its own
  // has its charger's (`charger_id`'s), if that has one.
  v1::ChargingPointInfo InfoOf(const std::string& cp_id, const std::string& charger_id = "") const;

 private:
  ChargersFile(std::string path, v1::ChargingPointInfo defaults)
      : path_(std::move(path)), defaults_(std::move(defaults)) {}
  // The file as it is now, checked.
  absl::StatusOr<std::map<std::string, v1::ChargingPointInfo>> Read() const;

  std::string path_;
  v1::ChargingPointInfo defaults_;
  std::map<std::string, v1::ChargingPointInfo> chargers_;
  struct timespec modified_ = {0, 0};      // of the version read
  struct timespec bad_modified_ = {0, 0};  // of the last version refused
};

}  // namespace evnet::ocpp

#endif  // EVNET_OCPP_GATEWAY_CHARGERS_FILE_H_
