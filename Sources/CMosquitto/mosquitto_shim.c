#define _GNU_SOURCE  // pthread_setname_np
#include "dd_mosquitto.h"

#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

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

    // The network thread (`dd_mosq_loop_start`) is the shim's own, not libmosquitto's `mosquitto_loop_start`:
    // that one runs `mosquitto_loop_forever`, which returns after a "fatal" error, ending the thread without a
    // word, and TLS errors are fatal there. With libmosquitto 2.0 (Debian 12), a failed TLS handshake (the
    // broker's certificate does not verify) was never reported (no on_disconnect: the first connection timed
    // out), and a TLS connection that the broker closed (a restart: SSL_read fails, errno EPROTO) was never
    // reconnected; see eclipse/mosquitto issues 2825 and 3258, and the TLS test in HomeAssistantTests.swift. Our
    // thread calls `mosquitto_loop` and reconnects after every failure, reporting the ones libmosquitto does not.
    pthread_t thread;
    bool thread_started;
    unsigned int reconnect_delay;
    unsigned int reconnect_delay_max;
    bool reconnect_exponential;
    // The network thread's (set before it starts): failed attempts since the last accepted connection, and
    // whether the end of the current connection attempt was reported (by on_disconnect, or by the thread).
    unsigned int failures;
    bool end_reported;
    // Under `lock`, signalled on `changed`: no more reconnections (`dd_mosq_disconnect`, `dd_mosq_loop_stop`),
    // and leave now, even with the connection up (`dd_mosq_loop_stop` with `force`).
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool stopping;
    bool forced;
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
    if (code == 0) client->failures = 0;
    dd_mosq_event event = {.kind = DD_MOSQ_EVENT_CONNECT, .code = code};
    client->callback(client->userdata, &event);
}

static void report_disconnect(dd_mosq_client *client, int code, int error_number) {
    client->end_reported = true;
    dd_mosq_event event = {.kind = DD_MOSQ_EVENT_DISCONNECT, .code = code, .error_number = error_number};
    client->callback(client->userdata, &event);
}

static void on_disconnect(struct mosquitto *mosq, void *object, int code) {
    report_disconnect(object, code, code == MOSQ_ERR_ERRNO ? errno : 0);
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
    client->reconnect_delay = 1;
    client->reconnect_delay_max = 1;
    pthread_condattr_t attributes;
    if (pthread_mutex_init(&client->lock, NULL) != 0) {
        *status = -MOSQ_ERR_NOMEM;
        free(client);
        return NULL;
    }
    // A monotonic clock for the reconnection delays.
    if (pthread_condattr_init(&attributes) != 0 || pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&client->changed, &attributes) != 0) {
        *status = -MOSQ_ERR_NOMEM;
        pthread_mutex_destroy(&client->lock);
        free(client);
        return NULL;
    }
    pthread_condattr_destroy(&attributes);
    errno = 0;
    client->mosq = mosquitto_new(client_id, true, client);
    if (client->mosq == NULL) {
        // mosquitto_new reports EINVAL (bad arguments) or ENOMEM through errno.
        *status = errno == EINVAL ? -MOSQ_ERR_INVAL : -MOSQ_ERR_NOMEM;
        pthread_cond_destroy(&client->changed);
        pthread_mutex_destroy(&client->lock);
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
    if (client->thread_started) dd_mosq_loop_stop(client, true);
    mosquitto_destroy(client->mosq);
    pthread_cond_destroy(&client->changed);
    pthread_mutex_destroy(&client->lock);
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
    if (delay == 0 || delay_max < delay) return -MOSQ_ERR_INVAL;
    client->reconnect_delay = delay;
    client->reconnect_delay_max = delay_max;
    client->reconnect_exponential = exponential;
    return 0;
}

int dd_mosq_connect_async(dd_mosq_client *client, const char *host, int port, int keepalive) {
    client->end_reported = false;
    return result(mosquitto_connect_async(client->mosq, host, port, keepalive));
}

int dd_mosq_disconnect(dd_mosq_client *client) {
    pthread_mutex_lock(&client->lock);
    client->stopping = true;
    pthread_cond_broadcast(&client->changed);
    pthread_mutex_unlock(&client->lock);
    return result(mosquitto_disconnect(client->mosq));
}

/// Whether the network thread was told to stop reconnecting.
static bool stopping(dd_mosq_client *client) {
    pthread_mutex_lock(&client->lock);
    bool stopping = client->stopping;
    pthread_mutex_unlock(&client->lock);
    return stopping;
}

/// Whether the network thread was told to end now, connected or not.
static bool forced(dd_mosq_client *client) {
    pthread_mutex_lock(&client->lock);
    bool forced = client->forced;
    pthread_mutex_unlock(&client->lock);
    return forced;
}

/// Waits before the next reconnection attempt (`reconnect_delay`, doubling up to `reconnect_delay_max` when
/// exponential); false when told to stop meanwhile.
static bool wait_to_reconnect(dd_mosq_client *client) {
    unsigned int delay = client->reconnect_delay;
    if (client->reconnect_exponential) {
        for (unsigned int i = 0; i < client->failures && delay < client->reconnect_delay_max; i++) delay *= 2;
    }
    if (delay > client->reconnect_delay_max) delay = client->reconnect_delay_max;
    client->failures++;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += delay;
    pthread_mutex_lock(&client->lock);
    while (!client->stopping && pthread_cond_timedwait(&client->changed, &client->lock, &deadline) != ETIMEDOUT) {
    }
    bool stopping = client->stopping;
    pthread_mutex_unlock(&client->lock);
    return !stopping;
}

static void *network_thread(void *argument) {
    dd_mosq_client *client = argument;
    while (!forced(client)) {
        // Reads, writes and pings for up to a second (a publish from another thread wakes it up).
        int rc = mosquitto_loop(client->mosq, 1000, 1);
        if (rc == MOSQ_ERR_SUCCESS) continue;
        int error_number = errno;
        // The connection is down (after dd_mosq_disconnect: its DISCONNECT went out, or the connection is gone).
        if (stopping(client)) break;
        // libmosquitto reported the end of the connection through on_disconnect, except after a failed TLS
        // handshake: report it here. MOSQ_ERR_NO_CONN: no connection since an attempt that failed at once.
        if (rc != MOSQ_ERR_NO_CONN && !client->end_reported) report_disconnect(client, rc, error_number);
        // Again after a delay, until an attempt gets under way (its outcome comes as events).
        do {
            if (!wait_to_reconnect(client)) return NULL;
            rc = mosquitto_reconnect(client->mosq);
        } while (rc != MOSQ_ERR_SUCCESS);
        client->end_reported = false;
        // Told to stop while reconnecting: end this connection too (dd_mosq_disconnect may have come before it).
        if (stopping(client)) mosquitto_disconnect(client->mosq);
    }
    return NULL;
}

int dd_mosq_loop_start(dd_mosq_client *client) {
    if (client->thread_started) return -MOSQ_ERR_INVAL;
    // Messages queued by other threads are written by the network thread (which their queueing wakes up).
    mosquitto_threaded_set(client->mosq, true);
    int error = pthread_create(&client->thread, NULL, network_thread, client);
    if (error != 0) {
        mosquitto_threaded_set(client->mosq, false);
        errno = error;
        return -MOSQ_ERR_ERRNO;
    }
    pthread_setname_np(client->thread, "mosquitto loop");
    client->thread_started = true;
    return 0;
}

int dd_mosq_loop_stop(dd_mosq_client *client, bool force) {
    if (!client->thread_started) return -MOSQ_ERR_INVAL;
    pthread_mutex_lock(&client->lock);
    client->stopping = true;
    if (force) client->forced = true;
    pthread_cond_broadcast(&client->changed);
    pthread_mutex_unlock(&client->lock);
    pthread_join(client->thread, NULL);
    client->thread_started = false;
    mosquitto_threaded_set(client->mosq, false);
    return 0;
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
