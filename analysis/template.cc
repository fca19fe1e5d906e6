#include "analysis/template.h"

#include "api/template.h"
#include "common/text.h"

namespace agentrollout::analysis {

std::string EscapePromQLString(std::string_view value, char quote) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  for (std::size_t pos = 0; pos < value.size();) {
    const char c = value[pos];
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      if (const std::size_t length = Utf8SequenceLength(value, pos); length > 1) {
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
      case '\'':
        if (c == quote) out += '\\';
        out += c;
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
    switch (part.context) {
      case api::TemplateContext::kDoubleQuoted:
        rendered += EscapePromQLString(value->second, '"');
        break;
      case api::TemplateContext::kSingleQuoted:
        rendered += EscapePromQLString(value->second, '\'');
        break;
      case api::TemplateContext::kBare:
      case api::TemplateContext::kRaw:
        if (!api::IsNumberOrDuration(value->second)) {
          return InvalidArgument("{{" + part.text +
                                 "}} stands outside a \"…\" or '…' string literal, so its "
                                 "value must be a number or a duration, got " +
                                 QuoteForMessage(value->second));
        }
        rendered += value->second;
        break;
    }
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
