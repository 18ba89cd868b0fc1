// Who a dashboard request comes from. Behind a reverse proxy (a Kubernetes
// ingress) every request's peer is the proxy, so the login throttle and the
// audit log would see one client; a proxy the operator names as trusted
// says who its client was in X-Forwarded-For, and that is believed of it
// only: from any other peer the header is ignored (anyone can write it).
#ifndef EVNET_CENTRAL_CLIENT_ADDRESS_H_
#define EVNET_CENTRAL_CLIENT_ADDRESS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace evnet {

class TrustedProxies {
 public:
  // None: every request's client is its peer.
  TrustedProxies() = default;
  // A comma-separated list of addresses and networks ("10.0.0.7",
  // "10.42.0.0/16", "fd00::/8"); INVALID_ARGUMENT naming the bad entry.
  static absl::StatusOr<TrustedProxies> Parse(absl::string_view list);

  bool Trusts(absl::string_view address) const;
  // The client of a request from `peer` carrying `forwarded_for` (the
  // X-Forwarded-For header, "" if none): walking the header from its right
  // end (the entry the nearest proxy added) past the proxies trusted, the
  // first address that is not one; `peer` when the peer is not trusted or
  // the header holds no address.
  std::string ClientOf(const std::string& peer, absl::string_view forwarded_for) const;

  bool empty() const { return networks_.empty(); }

 private:
  struct Network {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};
    int prefix_bits = 0;
  };
  static bool ParseAddress(absl::string_view text, Network& out);
  std::vector<Network> networks_;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_CLIENT_ADDRESS_H_
