#include "analysis/template.h"

#include "api/template.h"

namespace agentrollout::analysis {
namespace {

// Length of the valid UTF-8 sequence starting at text[pos], or 0 when the bytes there
// are not one (truncated, overlong, surrogate, beyond U+10FFFF).
std::size_t Utf8SequenceLength(std::string_view text, std::size_t pos) {
  const auto at = [&](std::size_t i) { return static_cast<unsigned char>(text[pos + i]); };
  const unsigned char lead = at(0);
  std::size_t length = 0;
  unsigned min_second = 0x80;
  unsigned max_second = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) min_second = 0xa0;  // overlong
    if (lead == 0xed) max_second = 0x9f;  // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) min_second = 0x90;  // overlong
    if (lead == 0xf4) max_second = 0x8f;  // > U+10FFFF
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  if (at(1) < min_second || at(1) > max_second) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (at(i) < 0x80 || at(i) > 0xbf) return 0;
  }
  return length;
}

}  // namespace

std::string EscapePromQLString(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  for (std::size_t pos = 0; pos < value.size();) {
    const char c = value[pos];
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      if (const std::size_t length = Utf8SequenceLength(value, pos); length > 0) {
        out.append(value.substr(pos, length));
        pos += length;
        continue;
      }
    }
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (byte < 0x20 || byte >= 0x7f) {
          out += "\\x";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xf];
        } else {
          out += c;
        }
    }
    ++pos;
  }
  return out;
}

Result<std::string> Render(std::string_view query, const TemplateVars& vars) {
  auto parts = api::ParseTemplate(query);
  if (!parts.ok()) return parts.error();
  std::string rendered;
  for (const api::TemplatePart& part : *parts) {
    if (part.kind == api::TemplatePart::Kind::kLiteral) {
      rendered += part.text;
      continue;
    }
    const auto value = vars.find(part.text);
    if (value == vars.end()) {
      return InvalidArgument("unknown template variable {{" + part.text + "}}");
    }
    rendered += EscapePromQLString(value->second);
  }
  return rendered;
}

TemplateVars BuildTemplateVars(const api::AgentRollout& rollout, std::string_view phase) {
  TemplateVars vars = rollout.spec.analysis.args;
  std::string canary;
  std::string stable;
  if (const auto& traffic = rollout.spec.traffic) {
    if (traffic->gateway_api) {
      canary = traffic->gateway_api->canary_backend;
      stable = traffic->gateway_api->stable_backend;
    } else if (traffic->istio) {
      canary = traffic->istio->canary_host;
      stable = traffic->istio->stable_host;
    } else if (traffic->replicas) {
      canary = traffic->replicas->canary_deployment;
      stable = traffic->replicas->stable_deployment;
    }
  }
  vars["name"] = rollout.metadata.name;
  vars["namespace"] = rollout.metadata.namespace_;
  vars["flag"] = rollout.spec.flag ? rollout.spec.flag->key : std::string();
  vars["phase"] = std::string(phase);
  vars["canary"] = canary;
  vars["stable"] = stable;
  return vars;
}

}  // namespace agentrollout::analysis
