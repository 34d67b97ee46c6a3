/*
 * mg_math.c -- scalar functions with Python's rules for errors.
 *
 * Python float arithmetic and the math module raise where C would quietly
 * return inf or nan (0.0 ** -1, math.exp(1000), math.log(0)); the engine
 * must raise the same exceptions, so these functions compute the C value
 * and report, as an MG_E* code, the error Python would have raised. They
 * touch no shared state and need no lock.
 */
#include <math.h>
#include "mg_internal.h"

/* Python's float.__pow__ (Objects/floatobject.c), complex results refused. */
int mg_float_pow(double x, double y, double *out)
{
    if (y == 0.0) {
        *out = 1.0;
        return 0;
    }
    if (y == 1.0) { /* what pow returns, exactly (x ** 2's derivative needs it) */
        *out = x;
        return 0;
    }
    if (isnan(x) || isnan(y)) {
        *out = x == 1.0 ? 1.0 : NAN;
        return 0;
    }
    if (isinf(y)) {
        double ax = fabs(x);
        *out = ax == 1.0 ? 1.0 : ((y > 0.0) == (ax > 1.0) ? INFINITY : 0.0);
        return 0;
    }
    if (x == 0.0 && y < 0.0)
        return MG_EZERODIV;
    if (x < 0.0 && isfinite(x) && floor(y) != y)
        return MG_ECOMPLEX;
    double r = pow(x, y);
    if (isinf(r) && isfinite(x))
        return MG_ERANGE;
    *out = r;
    return 0;
}

/* The logistic function, never overflowing. */
static double sigmoid(double x)
{
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* log(1 + e ** x), never overflowing: x + log(1 + e ** -x) for x > 0. */
static double softplus(double x)
{
    return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

double mg_logaddexp_value(double a, double b)
{
    if (a == b) /* (also where both are the same infinity) */
        return a + 0.69314718055994530942; /* log(2) */
    double m = a > b ? a : b;
    return m + log1p(exp(-fabs(a - b))); /* nan if either is */
}

int mg_unary_value(int op, double x, double *out)
{
    switch (op) {
    case MG_RELU:
        *out = x < 0.0 ? 0.0 : x;
        return 0;
    case MG_TANH:
        *out = tanh(x);
        return 0;
    case MG_SIGMOID:
        *out = sigmoid(x);
        return 0;
    case MG_SOFTPLUS:
        *out = softplus(x);
        return 0;
    case MG_EXP:
        *out = exp(x);
        return isinf(*out) && isfinite(x) ? MG_ERANGE : 0;
    case MG_LOG:
        if (x <= 0.0)
            return MG_EDOMAIN;
        *out = log(x);
        return 0;
    default:
        return MG_EINDEX;
    }
}
