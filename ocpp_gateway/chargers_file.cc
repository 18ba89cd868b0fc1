#include "ocpp_gateway/chargers_file.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/validation.h"
#include "evnet/v1/gateway.pb.h"
#include "glog/logging.h"
#include "google/protobuf/util/json_util.h"

namespace evnet::ocpp {
namespace {

struct timespec ModifiedAt(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return {0, 0};
  return st.st_mtim;
}

}  // namespace

absl::StatusOr<ChargersFile> ChargersFile::Open(const std::string& path,
                                                const v1::ChargingPointInfo& defaults) {
  ChargersFile file(path, defaults);
  if (path.empty()) return file;
  file.modified_ = ModifiedAt(path);
  absl::StatusOr<std::map<std::string, v1::ChargingPointInfo>> chargers = file.Read();
  if (!chargers.ok()) return chargers.status();
  file.chargers_ = *std::move(chargers);
  return file;
}

absl::StatusOr<std::map<std::string, v1::ChargingPointInfo>> ChargersFile::Read() const {
  absl::StatusOr<std::string> text = ReadFile(path_);
  if (!text.ok()) return text.status();
  // Strict: a misspelt field is an error, not a default taken in silence.
  v1::OcppChargers parsed;
  google::protobuf::util::JsonParseOptions strict;
  strict.ignore_unknown_fields = false;
  if (const auto read = google::protobuf::util::JsonStringToMessage(*text, &parsed, strict);
      !read.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the chargers file ", path_,
        " is not {\"chargers\": {\"ID\": {\"location\", \"powerKw\", \"priceEurPerKwh\"}}}: ",
        std::string(read.message())));
  }
  std::map<std::string, v1::ChargingPointInfo> chargers;
  for (const auto& [id, given] : parsed.chargers()) {
    v1::ChargingPointInfo info = defaults_;
    info.set_cp_id(id);
    if (!given.location().empty()) info.set_location(given.location());
    if (given.has_power_kw()) info.set_power_kw(given.power_kw());
    if (given.has_price_eur_per_kwh()) info.set_price_eur_per_kwh(given.price_eur_per_kwh());
    if (absl::Status valid = ValidateCpInfo(info); !valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the chargers file ", path_, ": ", id.substr(0, 64), ": ", valid.message()));
    }
    chargers[id] = std::move(info);
  }
  return chargers;
}

bool ChargersFile::Reload() {
  if (path_.empty()) return false;
  const struct timespec modified = ModifiedAt(path_);
  auto same = [](const struct timespec& a, const struct timespec& b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
  };
  if (same(modified, modified_)) return false;
  absl::StatusOr<std::map<std::string, v1::ChargingPointInfo>> chargers = Read();
  if (!chargers.ok()) {
    // Read again at the next call (an editor may be half-way through
    // writing it); said once per version of the file.
    if (!same(modified, bad_modified_)) {
      LOG(ERROR) << "OCPP | " << chargers.status().message() << "; the chargers keep their figures";
      bad_modified_ = modified;
    }
    return false;
  }
  modified_ = modified;
  LOG(INFO) << "OCPP | Read " << chargers->size() << " charger(s) from " << path_;
  chargers_ = *std::move(chargers);
  return true;
}

v1::ChargingPointInfo ChargersFile::InfoOf(const std::string& cp_id,
                                           const std::string& charger_id) const {
  auto it = chargers_.find(cp_id);
  if (it == chargers_.end() && !charger_id.empty()) it = chargers_.find(charger_id);
  v1::ChargingPointInfo info = it == chargers_.end() ? defaults_ : it->second;
  info.set_cp_id(cp_id);
  return info;
}

}  // namespace evnet::ocpp
