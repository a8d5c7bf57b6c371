"""Reference values for Talon's Holt-Winters (src/domain/forecast/holt-winters.ts), computed with statsmodels.

Run:  python3 -m venv /tmp/pricing-venv && /tmp/pricing-venv/bin/pip install statsmodels
      /tmp/pricing-venv/bin/python tools/pricing/holt_winters_reference.py > test/fixtures/pricing/holt-winters-reference.json
      npx prettier --write test/fixtures/pricing/holt-winters-reference.json

Two series: the Box-Jenkins airline passengers (monthly, period 12; a textbook multiplicative series) and a
synthetic hourly demand (period 24, one week, with a daily cycle, a weekday dip, a slow trend and fixed
pseudo-noise; strictly positive). For each series and each seasonality (additive, multiplicative), with an
additive trend and no damping:
  - fixed:     smoothing parameters given, "simple" initial states: fitted values, SSE, forecast;
  - known:     smoothing parameters and initial states given: fitted values and forecast (tests the recursions
               independently of the initialisation);
  - estimated: smoothing parameters fitted by statsmodels (least squares, "simple" initial states kept fixed): the
               parameters, SSE and forecast Talon's own fit is compared with.

Every case records statsmodels' fitted values, SSE, final states (level, trend, last m seasonal terms) and its
forecast. holtwinters.ExponentialSmoothing's forecast reuses, at every horizon h = k*m, the seasonal term of one
season earlier (its `_predict` overwrites s[nobs + m - 1] with s[nobs - 1]), i.e. it drops the last observation's
seasonal update there; the textbook forecast l_n + h*b_n + s_{n+h-m(k+1)} (Hyndman & Athanasopoulos 8.3) does
not. So the test compares Talon's forecast with statsmodels' at every other horizon, and everywhere with the
textbook forecast from statsmodels' own final states. For additive seasonality the forecast is also computed by
statsmodels' state-space ETSModel (error "add"; its trend smoothing is alpha*beta of the component form, otherwise
the same recursions; checked here to give the same SSE), which uses the textbook forecast. ETSModel's
multiplicative seasonal update divides by the new level l_t (Winters' original form) where holtwinters and Talon
divide by l_{t-1} + b_{t-1}, so it is no reference for the multiplicative case.
"""
import json
import math
import sys

import numpy as np
import statsmodels
from statsmodels.tsa.exponential_smoothing.initialization import _initialization_simple
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.holtwinters import ExponentialSmoothing

AIRLINE = [
    112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115, 126, 141, 135, 125, 149, 170, 170, 158, 133,
    114, 140, 145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166, 171, 180, 193, 181, 183, 218, 230, 242,
    209, 191, 172, 194, 196, 196, 236, 235, 229, 243, 264, 272, 237, 211, 180, 201, 204, 188, 235, 227, 234, 264,
    302, 293, 259, 229, 203, 229, 242, 233, 267, 269, 270, 315, 364, 347, 312, 274, 237, 278, 284, 277, 317, 313,
    318, 374, 413, 405, 355, 306, 271, 306, 315, 301, 356, 348, 355, 422, 465, 467, 404, 347, 305, 336, 340, 318,
    362, 348, 363, 435, 491, 505, 404, 359, 310, 337, 360, 342, 406, 396, 420, 472, 548, 559, 463, 407, 362, 405,
    417, 391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432,
]


def hourly_demand():
    """One week of hourly requested vCPUs: daily cycle peaking mid-afternoon, lighter weekend, slow growth."""
    out = []
    for t in range(168):
        hour, day = t % 24, t // 24
        daily = 10 + 6 * math.sin(2 * math.pi * (hour - 9) / 24) + 2 * math.sin(4 * math.pi * hour / 24)
        weekend = 0.8 if day >= 5 else 1.0
        noise = 0.6 * math.sin(12.9898 * t) * math.cos(78.233 * t)  # fixed, reproducible
        out.append(round(weekend * daily + 0.02 * t + noise + 4, 6))
    return out


FIXED = {"alpha": 0.3, "beta": 0.05, "gamma": 0.2}
HORIZON = 24


def ets_forecast(y, period, params, states, sse):
    """The textbook forecast from the same states and parameters, by statsmodels' ETSModel (additive only)."""
    model = ETSModel(y, error="add", trend="add", seasonal="add", seasonal_periods=period,
                     initialization_method="known", initial_level=states["level"], initial_trend=states["trend"],
                     initial_seasonal=np.asarray(states["seasonal"]))
    result = model.smooth([params["alpha"], params["alpha"] * params["beta"], params["gamma"]])
    ets_sse = float(np.sum((y - result.fittedvalues) ** 2))
    assert abs(ets_sse - sse) <= 1e-9 * sse, (ets_sse, sse)
    return [float(v) for v in result.forecast(HORIZON)]


def record(result, y, period, seasonal, params, states):
    out = {
        "params": params,
        "initial": states,
        "fitted": [float(v) for v in result.fittedvalues],
        "sse": float(result.sse),
        "final": {
            "level": float(result.level[-1]),
            "trend": float(result.trend[-1]),
            "seasonal": [float(v) for v in result.season[-period:]],
        },
        "forecast_holtwinters": [float(v) for v in result.forecast(HORIZON)],
    }
    if seasonal == "add":
        out["forecast_ets"] = ets_forecast(y, period, params, states, float(result.sse))
    return out


def case(series, period, seasonal):
    y = np.asarray(series, dtype=float)
    # statsmodels' "simple" initial states (Hyndman & Athanasopoulos 7.6), passed to the model as known
    # states: holtwinters.ExponentialSmoothing offers "simple" only through this function.
    level, trend, seasons = _initialization_simple(y, trend="add", seasonal=seasonal, seasonal_periods=period)
    initial = {"level": float(level), "trend": float(trend), "seasonal": [float(v) for v in seasons]}
    # Known states: the simple ones nudged, so a wrong initialisation cannot pass that case by accident.
    known_initial = {
        "level": initial["level"] * 1.01,
        "trend": initial["trend"] + 0.1,
        "seasonal": [v * 0.98 if seasonal == "mul" else v + 0.5 for v in initial["seasonal"]],
    }

    def model_from(states):
        return ExponentialSmoothing(y, trend="add", seasonal=seasonal, seasonal_periods=period,
                                    initialization_method="known", initial_level=states["level"],
                                    initial_trend=states["trend"], initial_seasonal=np.asarray(states["seasonal"]))

    def fixed_fit(states):
        return model_from(states).fit(smoothing_level=FIXED["alpha"], smoothing_trend=FIXED["beta"],
                                      smoothing_seasonal=FIXED["gamma"], optimized=False)

    estimated = model_from(initial).fit()
    estimated_params = {
        "alpha": float(estimated.params["smoothing_level"]),
        "beta": float(estimated.params["smoothing_trend"]),
        "gamma": float(estimated.params["smoothing_seasonal"]),
    }
    return {
        "seasonal": "additive" if seasonal == "add" else "multiplicative",
        "fixed": record(fixed_fit(initial), y, period, seasonal, FIXED, initial),
        "known": record(fixed_fit(known_initial), y, period, seasonal, FIXED, known_initial),
        "estimated": record(estimated, y, period, seasonal, estimated_params, initial),
    }


def main():
    series = {"airline": (AIRLINE, 12), "hourly-demand": (hourly_demand(), 24)}
    out = {
        "generator": "tools/pricing/holt_winters_reference.py",
        "statsmodels": statsmodels.__version__,
        "numpy": np.__version__,
        "horizon": HORIZON,
        "series": {},
    }
    for name, (values, period) in series.items():
        out["series"][name] = {
            "period": period,
            "values": values,
            "cases": [case(values, period, "add"), case(values, period, "mul")],
        }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
