/* jobs: the database threads of the API. A handler copies what it needs out of its request into
 * an api_args and submits a job; a database thread runs it with its own connection (reconnecting
 * when it broke) and posts the answer back to the service thread, which alone touches requests. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_internal.h"
#include "config.h"
#include "log.h"

struct api_job {
    struct api_job *next;
    struct api *a;
    struct http_request *req; /* service thread only */
    api_job_fn fn;
    struct api_args *args;
    struct api_reply reply;
};

struct api_args *api__args_new(void)
{
    return calloc(1, sizeof(struct api_args));
}

void api__args_free(struct api_args *args)
{
    if (args == NULL)
        return;
    free(args->body);
    if (args->path != NULL) {
        unlink(args->path); // an upload's temp file never outlives its job
        free(args->path);
    }
    free(args->name);
    free(args->filename);
    free(args->sheet);
    free(args);
}

void api__error(struct api_reply *r, int status, const char *fmt, ...)
{
    char raw[1024], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    log_redact(raw, msg, sizeof msg);
    r->status = status;
    cJSON_Delete(r->json);
    r->json = cJSON_CreateObject();
    cJSON_AddStringToObject(r->json, "error", msg);
}

/* On the service thread: answer and free. */
static void job_done(struct http_server *srv, void *arg)
{
    (void)srv;
    struct api_job *j = arg;
    struct http_request *req = j->req;
    if (j->reply.status >= 500)
        atomic_fetch_add(&j->a->requests_failed, 1);
    if (api__security_headers(req) != 0) {
        // out of memory adding headers: answer anyway
    }
    if (j->reply.text != NULL) {
        http_request_respond(req, j->reply.status, j->reply.content_type, j->reply.text, strlen(j->reply.text));
        free(j->reply.text);
        cJSON_Delete(j->reply.json);
    } else {
        http_request_respond_json(req, j->reply.status ? j->reply.status : 500, j->reply.json);
    }
    api__args_free(j->args);
    free(j);
}

static void *job_thread(void *arg)
{
    struct api *a = arg;
    struct db *db = NULL;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (!a->quit && a->head == NULL)
            pthread_cond_wait(&a->cond, &a->mu);
        struct api_job *j = a->head;
        if (j != NULL) {
            a->head = j->next;
            if (a->head == NULL)
                a->tail = NULL;
        }
        bool quit = a->quit;
        pthread_mutex_unlock(&a->mu);
        if (j == NULL && quit)
            break;
        if (j == NULL)
            continue;
        if (db == NULL || PQstatus(db_conn(db)) != CONNECTION_OK) {
            db_free(db);
            db = NULL;
            if (db_open(&db, a->cfg->database_url) != 0) {
                api__error(&j->reply, 503, "database unavailable: %s", db_errmsg(db));
                db_free(db);
                db = NULL;
            }
        }
        if (db != NULL) {
            j->fn(a, db, j->args, &j->reply);
            if (j->reply.status == 0)
                j->reply.status = 200;
        }
        if (http_server_post(a->srv, job_done, j) != 0) {
            // The server is going away: nobody will answer; the request dies with the server.
            cJSON_Delete(j->reply.json);
            free(j->reply.text);
            api__args_free(j->args);
            free(j);
        }
    }
    db_free(db);
    return NULL;
}

void api__submit(struct api *a, struct http_request *req, api_job_fn fn, struct api_args *args)
{
    struct api_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        api__args_free(args);
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    j->a = a;
    j->req = req;
    j->fn = fn;
    j->args = args;
    pthread_mutex_lock(&a->mu);
    if (a->quit) { // shutting down: no thread will take it
        pthread_mutex_unlock(&a->mu);
        api__args_free(args);
        free(j);
        http_request_respond_error(req, 503, "the server is stopping");
        return;
    }
    if (a->tail != NULL)
        a->tail->next = j;
    else
        a->head = j;
    a->tail = j;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->mu);
}

int api__jobs_start(struct api *a, int n)
{
    a->threads = calloc((size_t)n, sizeof *a->threads);
    if (a->threads == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&a->threads[i], NULL, job_thread, a) != 0)
            return -1;
        a->nthreads++;
    }
    return 0;
}

void api__jobs_stop(struct api *a)
{
    pthread_mutex_lock(&a->mu);
    a->quit = true;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->mu);
    for (int i = 0; i < a->nthreads; i++)
        pthread_join(a->threads[i], NULL);
    free(a->threads);
    a->threads = NULL;
    a->nthreads = 0;
    // Jobs still queued never ran: their requests died with the server.
    while (a->head != NULL) {
        struct api_job *j = a->head;
        a->head = j->next;
        api__args_free(j->args);
        free(j);
    }
    a->tail = NULL;
}
