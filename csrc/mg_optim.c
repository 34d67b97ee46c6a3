/*
 * mg_optim.c -- optimizer steps, gradient norms and zeroing over
 * parameter arrays.
 *
 * Each function takes n node indices and, under the lock, checks they are
 * all live before touching any (so an error changes nothing): the steps
 * then update every parameter's data in place, mg_zero_grad writes grads,
 * mg_grad_norm only reads them. State arrays (velocity, moments) belong
 * to the caller, one double per parameter, and are updated in place too.
 * SGD without momentum computes data - lr * grad, micrograd's own update.
 * A step writes data, so it marks the arena for the power check
 * (mg_data_written_locked), as every data write does.
 */
#include <math.h>
#include "mg_internal.h"

int mg_sgd(const int *idx, int n, double lr, double momentum, double *velocity)
{
    pthread_mutex_lock(&mg_lock);
    int ok = mg_all_live_locked(idx, n);
    for (int k = 0; k < n && ok; k++) {
        mg_node *p = mg_at(idx[k]);
        if (momentum != 0.0) {
            velocity[k] = momentum * velocity[k] + p->grad;
            p->data = p->data - lr * velocity[k];
        } else {
            p->data = p->data - lr * p->grad;
        }
    }
    if (ok)
        mg_data_written_locked();
    pthread_mutex_unlock(&mg_lock);
    return ok ? 0 : MG_EINDEX;
}

int mg_adam(const int *idx, int n, double lr, double beta1, double beta2, double eps, int t,
            double *m, double *v)
{
    pthread_mutex_lock(&mg_lock);
    int ok = mg_all_live_locked(idx, n) && t >= 1;
    double c1 = 1.0 - pow(beta1, t), c2 = 1.0 - pow(beta2, t);
    for (int k = 0; k < n && ok; k++) {
        mg_node *p = mg_at(idx[k]);
        m[k] = beta1 * m[k] + (1.0 - beta1) * p->grad;
        v[k] = beta2 * v[k] + (1.0 - beta2) * p->grad * p->grad;
        p->data -= lr * (m[k] / c1) / (sqrt(v[k] / c2) + eps);
    }
    if (ok)
        mg_data_written_locked();
    pthread_mutex_unlock(&mg_lock);
    return ok ? 0 : MG_EINDEX;
}

double mg_grad_norm(const int *idx, int n)
{
    pthread_mutex_lock(&mg_lock);
    double sum = mg_all_live_locked(idx, n) ? 0.0 : NAN;
    for (int k = 0; k < n && !isnan(sum); k++)
        sum += mg_at(idx[k])->grad * mg_at(idx[k])->grad;
    pthread_mutex_unlock(&mg_lock);
    return sqrt(sum);
}

int mg_zero_grad(const int *idx, int n)
{
    pthread_mutex_lock(&mg_lock);
    int ok = mg_all_live_locked(idx, n);
    for (int k = 0; k < n && ok; k++)
        mg_at(idx[k])->grad = 0.0;
    pthread_mutex_unlock(&mg_lock);
    return ok ? 0 : MG_EINDEX;
}
