#include "jss/metrics/scaler_metrics.h"

#include <gtest/gtest.h>

#include <string>

#include "mocks/core_fakes.h"
#include "prometheus/text_serializer.h"

namespace jss::metrics {
namespace {

using std::chrono::milliseconds;

class ScalerMetricsTest : public ::testing::Test {
 protected:
  ScalerMetrics& Make(SeriesLimits limits) {
    metrics_ = std::make_unique<ScalerMetrics>(std::make_shared<prometheus::Registry>(), "v",
                                               "r", limits, &clock_);
    return *metrics_;
  }
  // Series of `family` in the exposition (sample lines starting with it + "{").
  int Series(const std::string& family) const {
    const std::string text = prometheus::TextSerializer().Serialize(metrics_->registry()->Collect());
    int n = 0;
    for (size_t pos = 0; (pos = text.find("\n" + family + "{", pos)) != std::string::npos; ++pos) {
      ++n;
    }
    return n;
  }
  double Value(const std::string& series) const {
    const std::string text = prometheus::TextSerializer().Serialize(metrics_->registry()->Collect());
    const size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }

  core::FakeClock clock_;
  std::unique_ptr<ScalerMetrics> metrics_;
};

core::ConsumerKey Key(int i) { return {"default", "S", "c" + std::to_string(i)}; }

TEST_F(ScalerMetricsTest, NamesNeverReadSuccessfullyGetNoSeries) {
  auto& m = Make({});
  for (int i = 0; i < 5000; ++i) m.OnLagRead(Key(i), core::NotFoundError("no such consumer"));
  EXPECT_EQ(Series("jetstream_scaler_consumer_lag"), 0);
  EXPECT_EQ(Series("jetstream_scaler_consumer_lag_read_failures_total"), 0);
  EXPECT_EQ(Value("jetstream_scaler_lag_read_errors_total{connection=\"default\",reason=\"not_found\"}"),
            5000);
}

TEST_F(ScalerMetricsTest, AConsumerReadBeforeKeepsItsOwnFailureCount) {
  auto& m = Make({});
  m.OnLagRead(Key(1), core::ConsumerLag{3, 4});
  m.OnLagRead(Key(1), core::UnavailableError("NATS down"));
  EXPECT_EQ(Value("jetstream_scaler_consumer_lag{connection=\"default\",consumer=\"c1\",stream=\"S\"}"), 7);
  EXPECT_EQ(Value("jetstream_scaler_consumer_lag_read_failures_total{connection=\"default\",consumer=\"c1\",stream=\"S\"}"), 1);
}

TEST_F(ScalerMetricsTest, EachNamedFamilyIsCappedAndDropsAreCounted) {
  auto& m = Make({3, std::chrono::minutes(15)});
  for (int i = 0; i < 5; ++i) m.OnLagRead(Key(i), core::ConsumerLag{1, 0});
  for (int i = 0; i < 5; ++i) m.OnPolicyDenied("ns" + std::to_string(i));
  EXPECT_EQ(Series("jetstream_scaler_consumer_lag"), 3);
  EXPECT_EQ(Series("jetstream_scaler_policy_denials_total"), 3);
  EXPECT_EQ(Value("jetstream_scaler_metric_series_dropped_total{family=\"jetstream_scaler_consumer_lag\"}"), 2);
  EXPECT_EQ(Value("jetstream_scaler_metric_series_dropped_total{family=\"jetstream_scaler_policy_denials_total\"}"), 2);
}

TEST_F(ScalerMetricsTest, SeriesOfConsumersNobodyAsksAboutExpire) {
  auto& m = Make({100, milliseconds(60000)});
  m.OnLagRead(Key(1), core::ConsumerLag{1, 0});
  m.OnLagRead(Key(2), core::ConsumerLag{1, 0});
  clock_.Advance(milliseconds(40000));
  m.OnLagRead(Key(2), core::ConsumerLag{2, 0});  // still asked about
  clock_.Advance(milliseconds(30000));
  m.OnLagRead(Key(3), core::ConsumerLag{1, 0});  // sweeps: c1 idle for 70 s
  EXPECT_EQ(Series("jetstream_scaler_consumer_lag"), 2);
  EXPECT_EQ(Value("jetstream_scaler_consumer_lag{connection=\"default\",consumer=\"c1\",stream=\"S\"}"), -1);
  EXPECT_EQ(Value("jetstream_scaler_consumer_lag{connection=\"default\",consumer=\"c2\",stream=\"S\"}"), 2);
}

TEST_F(ScalerMetricsTest, ZeroMaxSeriesOmitsNames) {
  auto& m = Make({0, std::chrono::minutes(15)});
  m.OnLagRead(Key(1), core::ConsumerLag{1, 0});
  m.OnPolicyDenied("tenant-a");
  EXPECT_EQ(Series("jetstream_scaler_consumer_lag"), 0);
  EXPECT_EQ(Series("jetstream_scaler_policy_denials_total"), 0);
}

}  // namespace
}  // namespace jss::metrics

namespace jss::metrics {
namespace {

TEST_F(ScalerMetricsTest, OnlyConsumersSeenPausedGetAPausedSeries) {
  auto& m = Make({});
  for (int i = 0; i < 100; ++i) m.OnLagRead(Key(i), core::ConsumerLag{1, 0});
  EXPECT_EQ(Series("jetstream_scaler_consumer_paused"), 0);
  core::ConsumerLag paused{5, 0};
  paused.paused = true;
  m.OnLagRead(Key(7), paused);
  const std::string series =
      "jetstream_scaler_consumer_paused{connection=\"default\",consumer=\"c7\",stream=\"S\"}";
  EXPECT_EQ(Value(series), 1);
  EXPECT_EQ(Value("jetstream_scaler_consumer_lag{connection=\"default\",consumer=\"c7\",stream=\"S\"}"),
            5) << "the lag of a paused consumer is its real lag";
  m.OnLagRead(Key(7), core::ConsumerLag{5, 0});
  EXPECT_EQ(Value(series), 0) << "resumed";
  EXPECT_EQ(Series("jetstream_scaler_consumer_paused"), 1);
}

TEST_F(ScalerMetricsTest, TheApiLevelIsAGaugePerConnection) {
  auto& m = Make({});
  m.OnApiLevel("default", 2);
  m.OnApiLevel("eu", 0);
  EXPECT_EQ(Value("jetstream_scaler_nats_api_level{connection=\"default\"}"), 2);
  EXPECT_EQ(Value("jetstream_scaler_nats_api_level{connection=\"eu\"}"), 0);
}

}  // namespace
}  // namespace jss::metrics
