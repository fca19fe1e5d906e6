export { bucket, isOn, murmur3_x86_32, type FlagState } from "./evaluate";
export { FlagFile, type FlagFileOptions } from "./flag_file";
export { parseFlags, type ParsedFlags } from "./parse";
