// kubectl-agentrollout: the kubectl plugin (kubectl finds it on PATH and runs it for
// `kubectl agentrollout ...`). Thin: the process's streams, the kubeconfig and Ctrl-C.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "plugin/cli.h"

namespace {

// SIGINT/SIGTERM are taken by a thread of their own (blocked before any other thread
// exists, so the HTTP library's threads never see them): the first one ends a running
// --watch cleanly (exit 0); otherwise, or on a second one, the process exits at once
// with 128 + the signal, as if it had not been caught.
void HandleSignals(agentrollout::plugin::WatchStop& stop) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([&stop, signals] {
    bool stopping = false;
    while (true) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      if (stopping || !stop.Stop()) _exit(128 + signal);
      stopping = true;
    }
  }).detach();
}

}  // namespace

int main(int argc, char** argv) {
  static agentrollout::plugin::WatchStop stop;  // outlives the detached signal thread
  HandleSignals(stop);
  agentrollout::plugin::PluginEnv env{std::cout, std::cerr,
                                      agentrollout::plugin::ConnectWithKubeconfig, stop};
  const int code = agentrollout::plugin::RunPlugin(argc, argv, env);
  std::cout.flush();
  return code;
}
