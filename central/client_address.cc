#include "central/client_address.h"

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace evnet {

bool TrustedProxies::ParseAddress(absl::string_view text, Network& out) {
  const std::string address(text);
  if (inet_pton(AF_INET, address.c_str(), out.bytes.data()) == 1) {
    out.v6 = false;
    out.prefix_bits = 32;
    return true;
  }
  if (inet_pton(AF_INET6, address.c_str(), out.bytes.data()) == 1) {
    out.v6 = true;
    out.prefix_bits = 128;
    return true;
  }
  return false;
}

absl::StatusOr<TrustedProxies> TrustedProxies::Parse(absl::string_view list) {
  TrustedProxies proxies;
  for (absl::string_view entry : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    std::vector<absl::string_view> parts = absl::StrSplit(entry, absl::MaxSplits('/', 1));
    Network network;
    bool ok = ParseAddress(parts[0], network);
    if (ok && parts.size() == 2) {
      int bits = -1;
      ok = absl::SimpleAtoi(parts[1], &bits) && bits >= 0 && bits <= network.prefix_bits;
      network.prefix_bits = bits;
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", entry, "' is not an address or network (10.0.0.7, 10.42.0.0/16, fd00::/8)"));
    }
    proxies.networks_.push_back(network);
  }
  return proxies;
}

bool TrustedProxies::Trusts(absl::string_view address) const {
  Network a;
  if (networks_.empty() || !ParseAddress(absl::StripAsciiWhitespace(address), a)) return false;
  for (const Network& n : networks_) {
    if (n.v6 != a.v6) continue;
    int bits = n.prefix_bits;
    size_t i = 0;
    for (; bits >= 8; bits -= 8, ++i) {
      if (n.bytes[i] != a.bytes[i]) break;
    }
    if (bits >= 8) continue;  // a whole byte differed
    const uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits));
    if (bits == 0 || (n.bytes[i] & mask) == (a.bytes[i] & mask)) return true;
  }
  return false;
}

namespace {

// An address as proxies write it: "198.51.100.1", "198.51.100.1:4711",
// "2001:db8::1" or "[2001:db8::1]:4711"; the address alone.
absl::string_view WithoutPort(absl::string_view hop) {
  if (absl::ConsumePrefix(&hop, "[")) {
    const size_t end = hop.find(']');
    return end == absl::string_view::npos ? absl::string_view() : hop.substr(0, end);
  }
  const size_t colon = hop.find(':');
  if (colon != absl::string_view::npos && hop.find(':', colon + 1) == absl::string_view::npos) {
    return hop.substr(0, colon);  // one colon: IPv4 with a port
  }
  return hop;
}

}  // namespace

std::string TrustedProxies::ClientOf(const std::string& peer,
                                     absl::string_view forwarded_for) const {
  if (!Trusts(peer)) return peer;
  std::vector<absl::string_view> hops = absl::StrSplit(forwarded_for, ',');
  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    const absl::string_view address = WithoutPort(absl::StripAsciiWhitespace(*hop));
    Network parsed;
    if (!ParseAddress(address, parsed)) return peer;  // not what a proxy writes
    if (!Trusts(address)) return std::string(address);
  }
  return peer;
}

}  // namespace evnet
