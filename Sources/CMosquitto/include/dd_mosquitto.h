#ifndef DD_MOSQUITTO_H
#define DD_MOSQUITTO_H
/// Thin typed shim over libmosquitto 2.0 (Debian 12) for dogdoor-web's Home Assistant bridge.
///
/// Only what the bridge needs: one client with credentials, TLS by CA file and a last will, connected
/// asynchronously and kept connected by a network thread (`dd_mosq_loop_start`), which also reconnects with the
/// delays of `dd_mosq_reconnect_delay_set`. The thread is the shim's own, around `mosquitto_loop`: libmosquitto's
/// (`mosquitto_loop_start`) ends for good, silently, after TLS errors (see the .c).
///
/// Return values: >= 0 on success, the negated MOSQ_ERR_* code on failure (`dd_mosq_strerror` names it). For
/// -DD_MOSQ_ERR_ERRNO, errno holds the system error when the call returns.
///
/// The three libmosquitto callbacks (connect, disconnect, message) all arrive at the one `dd_mosq_event_fn`
/// given to `dd_mosq_new`, on the network thread, with the client's userdata. The event and everything it
/// points to live only for the duration of the call: copy what you keep.

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The libmosquitto error codes the Swift side tells apart (the values of MOSQ_ERR_*; checked in the .c).
enum {
    DD_MOSQ_ERR_SUCCESS = 0,
    DD_MOSQ_ERR_NOMEM = 1,
    DD_MOSQ_ERR_INVAL = 3,
    DD_MOSQ_ERR_NO_CONN = 4,
    DD_MOSQ_ERR_CONN_REFUSED = 5,
    DD_MOSQ_ERR_CONN_LOST = 7,
    DD_MOSQ_ERR_TLS = 8,
    DD_MOSQ_ERR_ERRNO = 14,
    DD_MOSQ_ERR_EAI = 15,
};

/// Which libmosquitto callback an event comes from.
typedef enum dd_mosq_event_kind {
    /// The broker answered CONNECT: `code` is the CONNACK return code (0 accepted, else refused).
    DD_MOSQ_EVENT_CONNECT = 1,
    /// The connection ended: `code` is 0 when the client asked (`dd_mosq_disconnect`), else the MOSQ_ERR_*
    /// code of the failure (with `error_number` for DD_MOSQ_ERR_ERRNO), DD_MOSQ_ERR_TLS when the TLS handshake
    /// failed (the broker's certificate does not verify). The network thread reconnects.
    DD_MOSQ_EVENT_DISCONNECT = 2,
    /// A message arrived on a subscribed topic.
    DD_MOSQ_EVENT_MESSAGE = 3,
} dd_mosq_event_kind;

/// One callback's arguments.
typedef struct dd_mosq_event {
    dd_mosq_event_kind kind;
    int code;
    /// errno at the time of a disconnect with code DD_MOSQ_ERR_ERRNO (0 otherwise).
    int error_number;
    /// Messages: the topic (NUL-terminated), the payload (not terminated; NULL when empty), its QoS and whether
    /// the broker delivered it as a retained message.
    const char *topic;
    const void *payload;
    int payload_length;
    int qos;
    bool retain;
} dd_mosq_event;

typedef void (*dd_mosq_event_fn)(void *userdata, const dd_mosq_event *event);

/// A libmosquitto client with its callback.
typedef struct dd_mosq_client dd_mosq_client;

/// Initialises libmosquitto once per process (`mosquitto_lib_init` under pthread_once); later calls return the
/// first call's result. Call before `dd_mosq_new`.
int dd_mosq_lib_init(void);

/// A client named `client_id` with a clean session; events go to `callback` with `userdata`
/// (`mosquitto_new` and the three `*_callback_set`). Returns NULL and sets `status` on failure.
dd_mosq_client *dd_mosq_new(const char *client_id, dd_mosq_event_fn callback, void *userdata, int *status);

/// Frees the client (`mosquitto_destroy`). Stop the network thread first (`dd_mosq_loop_stop`): no callback
/// runs after `dd_mosq_loop_stop` has returned.
void dd_mosq_destroy(dd_mosq_client *client);

/// Credentials for CONNECT; `password` may be NULL (`mosquitto_username_pw_set`).
int dd_mosq_username_pw_set(dd_mosq_client *client, const char *username, const char *password);

/// TLS, verifying the broker's certificate (and host name) against the CA certificate in `ca_file`
/// (`mosquitto_tls_set`). -DD_MOSQ_ERR_INVAL when the file cannot be read.
int dd_mosq_tls_set(dd_mosq_client *client, const char *ca_file);

/// The message the broker publishes for the client when the connection is lost without a DISCONNECT
/// (`mosquitto_will_set`).
int dd_mosq_will_set(dd_mosq_client *client, const char *topic, const void *payload, int payload_length, int qos,
                     bool retain);

/// Waits between reconnection attempts of the network thread: `delay` seconds, doubling up to `delay_max` when
/// `exponential` (back to `delay` after an accepted connection). -DD_MOSQ_ERR_INVAL when `delay` is 0 or
/// `delay_max` is below it.
int dd_mosq_reconnect_delay_set(dd_mosq_client *client, unsigned int delay, unsigned int delay_max,
                                bool exponential);

/// Starts connecting to `host`:`port` (name lookup blocks; the TCP and MQTT handshakes finish on the network
/// thread, reported by a DD_MOSQ_EVENT_CONNECT) with keep-alive pings every `keepalive` seconds
/// (`mosquitto_connect_async`).
int dd_mosq_connect_async(dd_mosq_client *client, const char *host, int port, int keepalive);

/// Sends DISCONNECT after anything already queued; the broker then drops the will (`mosquitto_disconnect`). The
/// network thread no longer reconnects.
int dd_mosq_disconnect(dd_mosq_client *client);

/// Starts the network thread, which reads, writes, pings and reconnects (`mosquitto_loop` in a thread of the
/// shim's, in place of `mosquitto_loop_start`).
int dd_mosq_loop_start(dd_mosq_client *client);

/// Stops the network thread: waits for it to end after `dd_mosq_disconnect` (once the DISCONNECT is written or
/// the connection is gone), or, when `force`, ends it within a second even with the connection up. Never call it
/// from the event callback.
int dd_mosq_loop_stop(dd_mosq_client *client, bool force);

/// Queues a message (`mosquitto_publish`): the message id (>= 0) on success. QoS 0 needs a connection
/// (-DD_MOSQ_ERR_NO_CONN without one); QoS 1 and 2 wait in libmosquitto's queue for the next one.
int dd_mosq_publish(dd_mosq_client *client, const char *topic, const void *payload, int payload_length, int qos,
                    bool retain);

/// Subscribes to `pattern` (`mosquitto_subscribe`): the message id (>= 0) on success, -DD_MOSQ_ERR_NO_CONN
/// while disconnected (the session is clean: subscribe again after each DD_MOSQ_EVENT_CONNECT).
int dd_mosq_subscribe(dd_mosq_client *client, const char *pattern, int qos);

/// libmosquitto's description of a MOSQ_ERR_* code, given negated (as returned here) or not
/// (`mosquitto_strerror`).
const char *dd_mosq_strerror(int code);

/// libmosquitto's description of a CONNACK return code (`mosquitto_connack_string`).
const char *dd_mosq_connack_string(int code);

#ifdef __cplusplus
}
#endif

#endif
