/*
 * master/service.c - the table of websocket endpoints (see service.h).
 */
#include "service.h"

#include <string.h>

#include "recorder.h"
#include "relay.h"
#include "rooms.h"
#include "workspaces.h"

const struct service *const services[] = {
    &recorder_service,
    &rooms_service,
    &relay_service,
    &workspaces_service,
    NULL,
};

const struct service *service_for_path(const char *path)
{
    for (size_t i = 0; services[i]; i++)
        if (strcmp(services[i]->path, path) == 0)
            return services[i];
    return NULL;
}
