# CTest include file (TEST_INCLUDE_FILES, read after gtest_discover_tests'
# own): labels the integration tests that exercise NATS behaviour, so the
# server matrix in scripts/test.sh can rerun them against other nats-server
# releases (JSS_NATS_SERVER=/path, see scripts/nats-server.sh):
#   nats-matrix   every NATS-behaviour test: lag reads, JetStream errors, push
#                 wake-up and re-reads, reconnect, cluster leader failover,
#                 JetStream domains, accounts, the permission fallback, NATS
#                 auth and TLS. Runs against Debian's 2.9 and the newest release.
#   nats-lag-push the lag and push subset of it, which also runs against the
#                 2.10 and 2.11 lines (and 2.10.5, the platform chart's).
# Everything keeps the integration label: the default run is unchanged.
set(_jss_matrix_patterns
  "^ScalerRpcTest\\."
  "^NatsOutageTest\\."
  "^PushTest\\."
  "^PushPermissionTest\\."
  "^PushReconnectTest\\."
  "^ResilienceTest\\.NatsKilledAndRestartedUnderLoadNoCache$"
  "^ResilienceClusterTest\\."
  "^JetStreamDomainTest\\."
  "^MigrationTest\\."
  "^NatsCompatibilityTest\\."
  "^NatsApiLimitTest\\."
  "^OldestMessageAgeTest\\."
  "^AgeTriggerTest\\."
  "^SecurityTest\\.EachNamedConnectionAuthenticatesWithItsOwnToken$"
  "^SecurityTest\\.NatsOverTlsAndMutualTls$")
set(_jss_lag_push_patterns
  "^ScalerRpcTest\\."
  "^PushTest\\."
  "^NatsCompatibilityTest\\."
  "^OldestMessageAgeTest\\."
  "^AgeTriggerTest\\.")

foreach(_jss_test IN LISTS jss_integration_tests_TESTS)
  set(_jss_labels integration)
  foreach(_jss_pattern IN LISTS _jss_matrix_patterns)
    if(_jss_test MATCHES "${_jss_pattern}")
      list(APPEND _jss_labels nats-matrix)
      break()
    endif()
  endforeach()
  foreach(_jss_pattern IN LISTS _jss_lag_push_patterns)
    if(_jss_test MATCHES "${_jss_pattern}")
      list(APPEND _jss_labels nats-lag-push)
      break()
    endif()
  endforeach()
  if(NOT _jss_labels STREQUAL "integration")
    set_tests_properties("${_jss_test}" PROPERTIES LABELS "${_jss_labels}")
  endif()
endforeach()
