// Helpers for tests of Kafka transactions, on the mock cluster or the real
// broker alike: a transactional producer, a commit waited for, and what a
// read_committed reader finds.
#ifndef EVNET_TESTING_KAFKA_TRANSACTIONS_UTIL_H_
#define EVNET_TESTING_KAFKA_TRANSACTIONS_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/kafka/kafka_transactions.h"

namespace evnet::test {

// A transactional producer on `bootstrap` with `transactional_id`, or
// nullptr (and a test failure) when it cannot be made.
std::unique_ptr<KafkaTransactions> NewTransactions(const std::string& bootstrap,
                                                   const std::string& transactional_id);

// Commits `records` and waits, at most `timeout`, for the answer.
absl::Status CommitAndWait(KafkaTransactions& transactions, std::vector<KafkaRecord> records,
                           absl::Duration timeout = absl::Seconds(30));

// What a read_committed reader (librdkafka's default, and every evnet
// reader's) finds on `topic`/0: "key=value" each ("key=" for a tombstone).
std::vector<std::string> ReadCommitted(const std::string& bootstrap, const std::string& topic);

}  // namespace evnet::test

#endif  // EVNET_TESTING_KAFKA_TRANSACTIONS_UTIL_H_
