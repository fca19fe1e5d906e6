// Non-throwing access to members of JSON objects of unknown shape (objects read from the
// API server, documents written by people). Lookups go through the underlying map rather
// than nlohmann's iterators, which GCC 12 at -O2 reports as possible null dereferences.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace agentrollout::controllers {

// The member `key` of `object`; nullptr when `object` is not an object or has no `key`.
template <typename Json>
const Json* Member(const Json& object, const std::string& key) {
  if (!object.is_object()) return nullptr;
  const auto& members = object.template get_ref<const typename Json::object_t&>();
  const auto it = members.find(key);
  return it == members.end() ? nullptr : &it->second;
}

template <typename Json>
Json* Member(Json& object, const std::string& key) {
  return const_cast<Json*>(Member(static_cast<const Json&>(object), key));
}

// The text of the member `key`; "" when there is none or it is not a string.
template <typename Json>
std::string StringMember(const Json& object, const std::string& key) {
  const Json* member = Member(object, key);
  return member && member->is_string() ? member->template get<std::string>() : "";
}

}  // namespace agentrollout::controllers
