#include "kube/secret_data.h"

#include <gtest/gtest.h>

namespace agentrollout::kube {
namespace {

nlohmann::json Secret(nlohmann::json data) {
  return {{"metadata", {{"name", "prom"}, {"namespace", "voice"}}}, {"data", std::move(data)}};
}

TEST(DecodeBase64, DecodesPaddedUnpaddedAndWrapped) {
  EXPECT_EQ(DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(DecodeBase64("aGVsbG8"), "hello");
  EXPECT_EQ(DecodeBase64("aGVs\nbG8=\n"), "hello");
  EXPECT_EQ(DecodeBase64(""), "");
  EXPECT_EQ(DecodeBase64("AA=="), std::string(1, '\0'));
}

TEST(DecodeBase64, RejectsWhatIsNotBase64) {
  EXPECT_EQ(DecodeBase64("aGVsbG8=x"), std::nullopt);  // data after padding
  EXPECT_EQ(DecodeBase64("a"), std::nullopt);          // a lone symbol is no byte
  EXPECT_EQ(DecodeBase64("aGV*"), std::nullopt);
  EXPECT_EQ(DecodeBase64("aG==="), std::nullopt);
}

TEST(SecretData, ReturnsTheDecodedValue) {
  auto token = SecretData(Secret({{"token", "czNjcjN0"}}), "token");
  ASSERT_TRUE(token.ok()) << token.error().ToString();
  EXPECT_EQ(*token, "s3cr3t");
}

TEST(SecretData, ErrorsNameSecretAndKeyButNeverTheValue) {
  auto missing = SecretData(Secret({{"token", "czNjcjN0"}}), "password");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "secret voice/prom has no key \"password\"");

  auto garbled = SecretData(Secret({{"token", "not base64 s3cr3t!"}}), "token");
  ASSERT_FALSE(garbled.ok());
  EXPECT_EQ(garbled.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(garbled.error().message(), "secret voice/prom: data[token] is not valid base64");
  EXPECT_EQ(garbled.error().message().find("s3cr3t"), std::string::npos);

  auto no_data = SecretData({{"metadata", {{"name", "prom"}}}}, "token");
  ASSERT_FALSE(no_data.ok());
  EXPECT_EQ(no_data.error().message(), "secret prom has no key \"token\"");
}

TEST(LabelledSecretData, ReadsOnlySecretsThatOptIn) {
  nlohmann::json secret = Secret({{"token", "czNjcjN0"}});
  for (const nlohmann::json& labels :
       {nlohmann::json(), nlohmann::json::object(),
        nlohmann::json{{"rollouts.agentops.dev/use", "false"}},
        nlohmann::json{{"rollouts.agentops.dev/use", true}}, nlohmann::json{{"other", "true"}}}) {
    if (labels.is_null()) {
      secret["metadata"].erase("labels");
    } else {
      secret["metadata"]["labels"] = labels;
    }
    auto token = LabelledSecretData(secret, "token");
    ASSERT_FALSE(token.ok()) << labels.dump();
    EXPECT_EQ(token.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_EQ(token.error().message(),
              "secret voice/prom lacks the label rollouts.agentops.dev/use: \"true\" (only "
              "Secrets with it may be read for AgentRollouts)");
  }
  secret["metadata"]["labels"] = {{"rollouts.agentops.dev/use", "true"}};
  auto token = LabelledSecretData(secret, "token");
  ASSERT_TRUE(token.ok()) << token.error().ToString();
  EXPECT_EQ(*token, "s3cr3t");
  EXPECT_FALSE(LabelledSecretData(secret, "password").ok());
  EXPECT_FALSE(LabelledSecretData(nlohmann::json::array(), "token").ok());
}

}  // namespace
}  // namespace agentrollout::kube
