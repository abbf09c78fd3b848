#include "dd_mosquitto.h"

#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdlib.h>

_Static_assert(DD_MOSQ_ERR_SUCCESS == MOSQ_ERR_SUCCESS, "MOSQ_ERR_SUCCESS");
_Static_assert(DD_MOSQ_ERR_NOMEM == MOSQ_ERR_NOMEM, "MOSQ_ERR_NOMEM");
_Static_assert(DD_MOSQ_ERR_INVAL == MOSQ_ERR_INVAL, "MOSQ_ERR_INVAL");
_Static_assert(DD_MOSQ_ERR_NO_CONN == MOSQ_ERR_NO_CONN, "MOSQ_ERR_NO_CONN");
_Static_assert(DD_MOSQ_ERR_CONN_REFUSED == MOSQ_ERR_CONN_REFUSED, "MOSQ_ERR_CONN_REFUSED");
_Static_assert(DD_MOSQ_ERR_CONN_LOST == MOSQ_ERR_CONN_LOST, "MOSQ_ERR_CONN_LOST");
_Static_assert(DD_MOSQ_ERR_TLS == MOSQ_ERR_TLS, "MOSQ_ERR_TLS");
_Static_assert(DD_MOSQ_ERR_ERRNO == MOSQ_ERR_ERRNO, "MOSQ_ERR_ERRNO");
_Static_assert(DD_MOSQ_ERR_EAI == MOSQ_ERR_EAI, "MOSQ_ERR_EAI");

struct dd_mosq_client {
    struct mosquitto *mosq;
    dd_mosq_event_fn callback;
    void *userdata;
};

/// libmosquitto returns MOSQ_ERR_SUCCESS (0) or a positive code: negate failures, keep errno.
static int result(int rc) { return rc == MOSQ_ERR_SUCCESS ? 0 : -rc; }

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = 0;

static void init_library(void) { init_result = result(mosquitto_lib_init()); }

int dd_mosq_lib_init(void) {
    pthread_once(&init_once, init_library);
    return init_result;
}

static void on_connect(struct mosquitto *mosq, void *object, int code) {
    dd_mosq_client *client = object;
    dd_mosq_event event = {.kind = DD_MOSQ_EVENT_CONNECT, .code = code};
    client->callback(client->userdata, &event);
}

static void on_disconnect(struct mosquitto *mosq, void *object, int code) {
    int error_number = code == MOSQ_ERR_ERRNO ? errno : 0;
    dd_mosq_client *client = object;
    dd_mosq_event event = {.kind = DD_MOSQ_EVENT_DISCONNECT, .code = code, .error_number = error_number};
    client->callback(client->userdata, &event);
}

static void on_message(struct mosquitto *mosq, void *object, const struct mosquitto_message *message) {
    dd_mosq_client *client = object;
    dd_mosq_event event = {
        .kind = DD_MOSQ_EVENT_MESSAGE,
        .topic = message->topic,
        .payload = message->payloadlen > 0 ? message->payload : NULL,
        .payload_length = message->payloadlen > 0 ? message->payloadlen : 0,
        .qos = message->qos,
        .retain = message->retain,
    };
    client->callback(client->userdata, &event);
}

dd_mosq_client *dd_mosq_new(const char *client_id, dd_mosq_event_fn callback, void *userdata, int *status) {
    dd_mosq_client *client = calloc(1, sizeof *client);
    if (client == NULL) {
        *status = -MOSQ_ERR_NOMEM;
        return NULL;
    }
    client->callback = callback;
    client->userdata = userdata;
    errno = 0;
    client->mosq = mosquitto_new(client_id, true, client);
    if (client->mosq == NULL) {
        // mosquitto_new reports EINVAL (bad arguments) or ENOMEM through errno.
        *status = errno == EINVAL ? -MOSQ_ERR_INVAL : -MOSQ_ERR_NOMEM;
        free(client);
        return NULL;
    }
    mosquitto_connect_callback_set(client->mosq, on_connect);
    mosquitto_disconnect_callback_set(client->mosq, on_disconnect);
    mosquitto_message_callback_set(client->mosq, on_message);
    *status = 0;
    return client;
}

void dd_mosq_destroy(dd_mosq_client *client) {
    if (client == NULL) return;
    mosquitto_destroy(client->mosq);
    free(client);
}

int dd_mosq_username_pw_set(dd_mosq_client *client, const char *username, const char *password) {
    return result(mosquitto_username_pw_set(client->mosq, username, password));
}

int dd_mosq_tls_set(dd_mosq_client *client, const char *ca_file) {
    return result(mosquitto_tls_set(client->mosq, ca_file, NULL, NULL, NULL, NULL));
}

int dd_mosq_will_set(dd_mosq_client *client, const char *topic, const void *payload, int payload_length, int qos,
                     bool retain) {
    return result(mosquitto_will_set(client->mosq, topic, payload_length, payload, qos, retain));
}

int dd_mosq_reconnect_delay_set(dd_mosq_client *client, unsigned int delay, unsigned int delay_max,
                                bool exponential) {
    return result(mosquitto_reconnect_delay_set(client->mosq, delay, delay_max, exponential));
}

int dd_mosq_connect_async(dd_mosq_client *client, const char *host, int port, int keepalive) {
    return result(mosquitto_connect_async(client->mosq, host, port, keepalive));
}

int dd_mosq_disconnect(dd_mosq_client *client) { return result(mosquitto_disconnect(client->mosq)); }

int dd_mosq_loop_start(dd_mosq_client *client) { return result(mosquitto_loop_start(client->mosq)); }

int dd_mosq_loop_stop(dd_mosq_client *client, bool force) {
    return result(mosquitto_loop_stop(client->mosq, force));
}

int dd_mosq_publish(dd_mosq_client *client, const char *topic, const void *payload, int payload_length, int qos,
                    bool retain) {
    int mid = 0;
    int rc = mosquitto_publish(client->mosq, &mid, topic, payload_length, payload, qos, retain);
    return rc == MOSQ_ERR_SUCCESS ? mid : -rc;
}

int dd_mosq_subscribe(dd_mosq_client *client, const char *pattern, int qos) {
    int mid = 0;
    int rc = mosquitto_subscribe(client->mosq, &mid, pattern, qos);
    return rc == MOSQ_ERR_SUCCESS ? mid : -rc;
}

const char *dd_mosq_strerror(int code) { return mosquitto_strerror(code < 0 ? -code : code); }

const char *dd_mosq_connack_string(int code) { return mosquitto_connack_string(code); }
