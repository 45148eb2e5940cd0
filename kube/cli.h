/* The Kubernetes commands. Each takes argc/argv with argv[0] being the
 * subcommand name, and returns the process exit status. */
#ifndef WARD_KUBE_CLI_H
#define WARD_KUBE_CLI_H

#include "lib/version.h"

int ward_inject_main(int argc, char **argv);
int ward_uninject_main(int argc, char **argv);
int ward_wait_main(int argc, char **argv);
int ward_webhook_main(int argc, char **argv);

#endif
