/* `ward server`: argv[0] is "server"; returns the process exit status. */
#ifndef WARD_SERVER_CLI_H
#define WARD_SERVER_CLI_H

#include "lib/version.h"

int ward_server_main(int argc, char **argv);

#endif
