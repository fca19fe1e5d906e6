#include "kube/fake_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "kube/label_selector.h"

namespace agentrollout::kube {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

const ResourceRef kRollouts{"rollouts.agentops.dev", "v1alpha1", "agentrollouts", true};

json ConfigMap(const std::string& name, json data = json::object(), json labels = nullptr) {
  json object = {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
  if (!labels.is_null()) object["metadata"]["labels"] = labels;
  return object;
}

std::vector<std::string> Names(const ObjectList& list) {
  std::vector<std::string> out;
  for (const auto& item : list.items) out.push_back(item["metadata"]["name"]);
  return out;
}

TEST(FakeClient, CreateGetUpdateDelete) {
  FakeClient client;
  auto created = client.Create(kConfigMaps, "ns", ConfigMap("flags", {{"a", "1"}}));
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ((*created)["metadata"]["namespace"], "ns");
  EXPECT_FALSE((*created)["metadata"]["uid"].get<std::string>().empty());
  EXPECT_FALSE((*created)["metadata"]["creationTimestamp"].get<std::string>().empty());
  const std::string rv1 = (*created)["metadata"]["resourceVersion"];

  auto again = client.Create(kConfigMaps, "ns", ConfigMap("flags"));
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(IsAlreadyExists(again.error()));
  EXPECT_EQ(again.error().message(), "configmaps \"flags\" already exists");

  json changed = *created;
  changed["data"]["a"] = "2";
  auto updated = client.Update(kConfigMaps, "ns", changed);
  ASSERT_TRUE(updated.ok()) << updated.error().ToString();
  EXPECT_NE((*updated)["metadata"]["resourceVersion"], rv1);
  EXPECT_EQ((*client.Get(kConfigMaps, "ns", "flags"))["data"]["a"], "2");

  auto deleted = client.Delete(kConfigMaps, "ns", "flags");
  ASSERT_TRUE(deleted.ok());
  auto gone = client.Get(kConfigMaps, "ns", "flags");
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(IsNotFound(gone.error()));
  EXPECT_EQ(gone.error().message(), "configmaps \"flags\" not found");
  EXPECT_EQ(gone.api_status()->code, 404);
}

TEST(FakeClient, StaleResourceVersionConflicts) {
  FakeClient client;
  json first = *client.Create(kConfigMaps, "ns", ConfigMap("flags"));
  json a = first;
  a["data"]["x"] = "a";
  ASSERT_TRUE(client.Update(kConfigMaps, "ns", a).ok());
  json b = first;  // still carries the old resourceVersion
  b["data"]["x"] = "b";
  auto conflict = client.Update(kConfigMaps, "ns", b);
  ASSERT_FALSE(conflict.ok());
  EXPECT_TRUE(IsConflict(conflict.error()));
  EXPECT_EQ(conflict.error().message(),
            "Operation cannot be fulfilled on configmaps \"flags\": the object has been modified; "
            "please apply your changes to the latest version and try again");
  auto patch =
      client.Patch(kConfigMaps, "ns", "flags", PatchType::kMerge,
                   {{"metadata", {{"resourceVersion", first["metadata"]["resourceVersion"]}}},
                    {"data", {{"x", "c"}}}});
  ASSERT_FALSE(patch.ok());
  EXPECT_TRUE(IsConflict(patch.error()));
  DeleteOptions stale;
  stale.precondition_resource_version = first["metadata"]["resourceVersion"];
  EXPECT_TRUE(IsConflict(client.Delete(kConfigMaps, "ns", "flags", stale).error()));
  json unconditional = b;
  unconditional["metadata"].erase("resourceVersion");
  EXPECT_TRUE(client.Update(kConfigMaps, "ns", unconditional).ok());
}

TEST(FakeClient, NoOpUpdateKeepsTheResourceVersion) {
  FakeClient client;
  json object = *client.Create(kConfigMaps, "ns", ConfigMap("flags", {{"a", "1"}}));
  auto same = client.Update(kConfigMaps, "ns", object);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ((*same)["metadata"]["resourceVersion"], object["metadata"]["resourceVersion"]);
}

TEST(FakeClient, StatusSubresource) {
  FakeClient client;
  client.EnableStatusSubresource(kRollouts);
  json rollout = {{"metadata", {{"name", "r"}}},
                  {"spec", {{"revision", "1"}}},
                  {"status", {{"phase", "Ignored"}}}};
  json created = *client.Create(kRollouts, "ns", rollout);
  EXPECT_FALSE(created.contains("status")) << "status is dropped on create";
  EXPECT_EQ(created["metadata"]["generation"], 1);

  json with_status = created;
  with_status["status"] = {{"phase", "Progressing"}};
  with_status["spec"]["revision"] = "ignored by /status";
  json after_status = *client.UpdateStatus(kRollouts, "ns", with_status);
  EXPECT_EQ(after_status["status"]["phase"], "Progressing");
  EXPECT_EQ(after_status["spec"]["revision"], "1");
  EXPECT_EQ(after_status["metadata"]["generation"], 1) << "status writes keep the generation";

  json spec_change = after_status;
  spec_change["spec"]["revision"] = "2";
  spec_change["status"] = {{"phase", "ignored by the main resource"}};
  json after_spec = *client.Update(kRollouts, "ns", spec_change);
  EXPECT_EQ(after_spec["metadata"]["generation"], 2);
  EXPECT_EQ(after_spec["status"]["phase"], "Progressing");

  json label_change = after_spec;
  label_change["metadata"]["labels"] = {{"team", "voice"}};
  EXPECT_EQ((*client.Update(kRollouts, "ns", label_change))["metadata"]["generation"], 2);

  auto stale = client.UpdateStatus(kRollouts, "ns", after_status);
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(IsConflict(stale.error()));

  PatchOptions status_patch;
  status_patch.subresource = "status";
  auto patched =
      client.Patch(kRollouts, "ns", "r", PatchType::kMerge,
                   {{"status", {{"verdict", "Go"}}}, {"spec", {{"revision", "x"}}}}, status_patch);
  ASSERT_TRUE(patched.ok()) << patched.error().ToString();
  EXPECT_EQ((*patched)["status"]["verdict"], "Go");
  EXPECT_EQ((*patched)["spec"]["revision"], "2");

  auto no_status = client.UpdateStatus(kConfigMaps, "ns", ConfigMap("x"));
  EXPECT_TRUE(IsNotFound(no_status.error()));
}

TEST(FakeClient, ScaleSubresourceOfADeployment) {
  const ResourceRef deployments{"apps", "v1", "deployments", true};
  FakeClient client;
  json deployment = {{"metadata", {{"name", "bot"}}},
                     {"spec", {{"replicas", 3}, {"template", {{"spec", json::object()}}}}},
                     {"status", {{"replicas", 2}}}};
  const json created = *client.Create(deployments, "ns", deployment);
  const GetOptions get_scale{.subresource = "scale"};
  PatchOptions patch_scale;
  patch_scale.subresource = "scale";

  auto scale = client.Get(deployments, "ns", "bot", get_scale);
  ASSERT_TRUE(scale.ok()) << scale.error().ToString();
  EXPECT_EQ((*scale)["kind"], "Scale");
  EXPECT_EQ((*scale)["apiVersion"], "autoscaling/v1");
  EXPECT_EQ((*scale)["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
  EXPECT_EQ((*scale)["spec"]["replicas"], 3);
  EXPECT_EQ((*scale)["status"]["replicas"], 2);
  EXPECT_FALSE(scale->contains("template"));

  auto scaled =
      client.Patch(deployments, "ns", "bot", PatchType::kMerge,
                   {{"metadata", {{"resourceVersion", created["metadata"]["resourceVersion"]}}},
                    {"spec", {{"replicas", 0}}}},
                   patch_scale);
  ASSERT_TRUE(scaled.ok()) << scaled.error().ToString();
  EXPECT_FALSE((*scaled)["spec"].contains("replicas")) << "0 is omitted, as the server does";
  const json after = *client.Get(deployments, "ns", "bot");
  EXPECT_EQ(after["spec"]["replicas"], 0);
  EXPECT_EQ(after["spec"]["template"], deployment["spec"]["template"]);
  EXPECT_EQ((*scaled)["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"]);

  auto stale =
      client.Patch(deployments, "ns", "bot", PatchType::kMerge,
                   {{"metadata", {{"resourceVersion", created["metadata"]["resourceVersion"]}}},
                    {"spec", {{"replicas", 5}}}},
                   patch_scale);
  EXPECT_TRUE(IsConflict(stale.error()));
  auto negative = client.Patch(deployments, "ns", "bot", PatchType::kMerge,
                               {{"spec", {{"replicas", -1}}}}, patch_scale);
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.api_status()->code, 422);
  EXPECT_TRUE(IsNotFound(client.Get(deployments, "ns", "nope", get_scale).error()));
  EXPECT_TRUE(IsNotFound(client.Get(kConfigMaps, "ns", "bot", get_scale).error()))
      << "configmaps have no scale subresource";
  ASSERT_TRUE(client.Create(kConfigMaps, "ns", ConfigMap("cm")).ok());
  EXPECT_TRUE(IsNotFound(client.Get(kConfigMaps, "ns", "cm", get_scale).error()));
  EXPECT_EQ(client.Actions().back().subresource, "scale");
}

TEST(FakeClient, PatchTypes) {
  FakeClient client;
  ASSERT_TRUE(client.Create(kConfigMaps, "ns", ConfigMap("cm", {{"a", "1"}, {"b", "2"}})).ok());
  auto merged = client.Patch(kConfigMaps, "ns", "cm", PatchType::kMerge,
                             {{"data", {{"a", nullptr}, {"c", "3"}}}});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ((*merged)["data"], json({{"b", "2"}, {"c", "3"}}));
  auto patched =
      client.Patch(kConfigMaps, "ns", "cm", PatchType::kJson,
                   json::array({{{"op", "replace"}, {"path", "/data/b"}, {"value", "9"}}}));
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ((*patched)["data"]["b"], "9");
  auto bad = client.Patch(kConfigMaps, "ns", "cm", PatchType::kJson,
                          json::array({{{"op", "test"}, {"path", "/data/b"}, {"value", "0"}}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.api_status()->code, 422);
  PatchOptions apply;
  apply.field_manager = "test";
  auto applied = client.Patch(kConfigMaps, "ns", "new", PatchType::kApply,
                              ConfigMap("new", {{"k", "v"}}), apply);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  EXPECT_EQ((*client.Get(kConfigMaps, "ns", "new"))["data"]["k"], "v");
  auto missing = client.Patch(kConfigMaps, "ns", "nope", PatchType::kMerge, json::object());
  EXPECT_TRUE(IsNotFound(missing.error()));
}

TEST(FakeClient, ListFiltersAndPaginates) {
  FakeClient client;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client
                    .Create(kConfigMaps, i < 3 ? "a" : "b",
                            ConfigMap("cm" + std::to_string(i), json::object(),
                                      {{"tier", i % 2 == 0 ? "web" : "db"}}))
                    .ok());
  }
  EXPECT_THAT(Names(*client.List(kConfigMaps, "a")), ElementsAre("cm0", "cm1", "cm2"));
  ListOptions web;
  web.label_selector = "tier=web";
  EXPECT_THAT(Names(*client.List(kConfigMaps, "", web)), ElementsAre("cm0", "cm2", "cm4"));
  ListOptions by_name;
  by_name.field_selector = "metadata.name=cm3";
  EXPECT_THAT(Names(*client.List(kConfigMaps, "", by_name)), ElementsAre("cm3"));

  ListOptions page;
  page.limit = 2;
  auto first = *client.List(kConfigMaps, "", page);
  EXPECT_THAT(Names(first), ElementsAre("cm0", "cm1"));
  EXPECT_EQ(first.remaining_item_count, 3);
  page.continue_token = first.continue_token;
  auto second = *client.List(kConfigMaps, "", page);
  EXPECT_THAT(Names(second), ElementsAre("cm2", "cm3"));
  ListOptions pages;
  pages.limit = 2;
  auto all = ListAll(client, kConfigMaps, "", pages);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 5u);
  EXPECT_EQ(all->resource_version, client.ResourceVersion());
}

TEST(FakeClient, WatchReplaysHistoryThenStreamsLiveChanges) {
  FakeClient client;
  ASSERT_TRUE(client.Create(kConfigMaps, "ns", ConfigMap("before")).ok());
  const std::string from = client.ResourceVersion();
  ASSERT_TRUE(client.Create(kConfigMaps, "ns", ConfigMap("after")).ok());
  WatchOptions options;
  options.resource_version = from;
  auto watch = client.Watch(kConfigMaps, "ns", options);
  ASSERT_TRUE(watch.ok());
  auto replayed = (*watch)->Next();
  ASSERT_TRUE(replayed.ok() && replayed->has_value());
  EXPECT_EQ((*replayed)->type, WatchEvent::Type::kAdded);
  EXPECT_EQ((*replayed)->object["metadata"]["name"], "after");
  ASSERT_TRUE(client.Delete(kConfigMaps, "ns", "before").ok());
  auto live = (*watch)->Next();
  ASSERT_TRUE(live.ok() && live->has_value());
  EXPECT_EQ((*live)->type, WatchEvent::Type::kDeleted);
  EXPECT_EQ((*live)->object["metadata"]["name"], "before");
  EXPECT_EQ((*live)->object["metadata"]["resourceVersion"], client.ResourceVersion());
  client.SendBookmarks();
  auto bookmark = (*watch)->Next();
  ASSERT_TRUE(bookmark.ok() && bookmark->has_value());
  EXPECT_EQ((*bookmark)->type, WatchEvent::Type::kBookmark);
  client.CloseWatches();
  auto end = (*watch)->Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
}

TEST(FakeClient, WatchEventsCanLagBehindTheStore) {
  FakeClient client;
  const std::string from = client.ResourceVersion();
  ASSERT_TRUE(client.Create(kConfigMaps, "ns", ConfigMap("a")).ok());
  client.DeliverWatchEventsThrough(client.ResourceVersion());
  ASSERT_TRUE(client.Create(kConfigMaps, "ns", ConfigMap("b")).ok());
  WatchOptions options;
  options.resource_version = from;
  auto watch = client.Watch(kConfigMaps, "ns", options);
  ASSERT_TRUE(watch.ok());
  auto first = (*watch)->Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->object["metadata"]["name"], "a");

  auto second = std::async(std::launch::async, [&] { return (*watch)->Next(); });
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout)
      << "b is newer than the version delivered through";
  client.DeliverWatchEventsThrough(std::nullopt);
  auto delivered = second.get();
  ASSERT_TRUE(delivered.ok() && delivered->has_value());
  EXPECT_EQ((*delivered)->object["metadata"]["name"], "b");
}

TEST(FakeClient, WatchFromACompactedVersionIsExpired) {
  FakeClient client;
  const std::string old = client.ResourceVersion();
  ASSERT_TRUE(client.Create(kConfigMaps, "ns", ConfigMap("x")).ok());
  client.Compact();
  WatchOptions options;
  options.resource_version = old;
  auto watch = client.Watch(kConfigMaps, "", options);
  ASSERT_TRUE(watch.ok());
  auto event = (*watch)->Next();
  ASSERT_TRUE(event.ok() && event->has_value());
  EXPECT_EQ((*event)->type, WatchEvent::Type::kError);
  EXPECT_EQ(StatusFromJson((*event)->object, 0).code, 410);
  EXPECT_EQ(StatusFromJson((*event)->object, 0).reason, "Expired");
}

TEST(FakeClient, WatchSelectorsTurnLabelChangesIntoAddsAndDeletes) {
  FakeClient client;
  json object = *client.Create(kConfigMaps, "ns", ConfigMap("x", json::object(), {{"app", "a"}}));
  WatchOptions options;
  options.label_selector = "app=b";
  options.resource_version = client.ResourceVersion();
  auto watch = std::move(client.Watch(kConfigMaps, "ns", options)).value();
  object["metadata"]["labels"]["app"] = "b";
  object = *client.Update(kConfigMaps, "ns", object);
  object["metadata"]["labels"]["app"] = "c";
  ASSERT_TRUE(client.Update(kConfigMaps, "ns", object).ok());
  EXPECT_EQ((*watch->Next())->type, WatchEvent::Type::kAdded);
  EXPECT_EQ((*watch->Next())->type, WatchEvent::Type::kDeleted);
}

TEST(FakeClient, ReactorsInjectFailuresAndActionsAreRecorded) {
  FakeClient client;
  int calls = 0;
  client.AddReactor([&](const FakeClient::Action& action) -> std::optional<ApiResult<json>> {
    if (action.verb == "update" && calls++ == 0) return StatusError(409, "Conflict", "injected");
    return std::nullopt;
  });
  json object = *client.Create(kConfigMaps, "ns", ConfigMap("x"));
  auto first = client.Update(kConfigMaps, "ns", object);
  ASSERT_FALSE(first.ok());
  EXPECT_TRUE(IsConflict(first.error()));
  EXPECT_TRUE(client.Update(kConfigMaps, "ns", object).ok());
  std::vector<std::string> verbs;
  for (const auto& action : client.Actions()) verbs.push_back(action.verb);
  EXPECT_THAT(verbs, ElementsAre("create", "update", "update"));
}

TEST(LabelSelector, ParsesAndMatches) {
  const std::map<std::string, std::string> labels = {{"app", "web"}, {"tier", "front"}};
  auto match = [&](const char* text) {
    auto selector = LabelSelector::Parse(text);
    EXPECT_TRUE(selector.ok()) << text;
    return selector.ok() && selector->Matches(labels);
  };
  EXPECT_TRUE(match(""));
  EXPECT_TRUE(match("app=web"));
  EXPECT_TRUE(match("app==web,tier"));
  EXPECT_FALSE(match("app!=web"));
  EXPECT_TRUE(match("app in (api, web)"));
  EXPECT_FALSE(match("app notin (api,web)"));
  EXPECT_TRUE(match("!legacy"));
  EXPECT_FALSE(match("!app"));
  EXPECT_FALSE(match("app=web,missing"));
  auto bad = LabelSelector::Parse("app in (a");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "label selector \"app in (a\": \"app in (a\": missing ')'");
}

}  // namespace
}  // namespace agentrollout::kube
