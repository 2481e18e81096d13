"""The benefits part of Concordat's golden scenario, driven by drive_change_request.py after the
convergence part: a rate card and the allergy-alert benefit enabled by the approved change
request; RGT's twelve monthly counts of 2025/26 (850 in all) submitted, validated by the trust
(not by their submitter) and accepted by the ICS; the year attributed wholly to the change
request; the ICS rollup of 850 adverse drug reactions prevented, 2,450 bed days and £980,000.00
non-cash-releasing with every cell expected, submitted and accepted; June reopened, resubmitted
and changing the rollup only once accepted again; the chart, the business case and the watch.

A mixin of the script's Driver: it uses its `call`, `expect_error`, `invalid` and `watch` (each
persona's concordat_client.Client at the benefits target), `begin`, `ok`, `person`, `api`, `args`
and `parent`.
"""

from __future__ import annotations

from fractions import Fraction

BENEFITS_DOMAIN = "benefits.concordat"
COUNTS = [70, 71, 72, 70, 69, 71, 72, 70, 71, 70, 72, 72]
MONTHS = [f"2025-{m:02d}" for m in range(4, 13)] + [f"2026-{m:02d}" for m in range(1, 4)]


class Benefits:
    """Needs the Driver's `call`, `expect_error`, `invalid`, `watch` (each calling the
    BenefitsService of the benefits target as a persona), `check` and `check_eq`, and the
    personas ics-analyst (ICS QUE), analyst-rgt (RGT's benefits analyst), lead-rgt, lead-rgm and
    board-chair."""

    def realise_benefits(self, cr) -> None:
        api = self.api
        bn, bnr = api.bn, api.bnr
        check, check_eq = self.check, self.check_eq
        benefit = f"{self.parent}/benefits/allergy-alerts"

        def cell(month: str, trust: str = "RGT") -> str:
            return f"{benefit}/trusts/{trust}/measurements/{month}"

        call = self.call

        def refused(method: str, persona: str, request, code: str, reason: str):
            return self.expect_error(method, persona, request, code, reason, BENEFITS_DOMAIN)

        def ics_figure(rollup):
            figures = [f for f in rollup.benefits[0].figures if not f.trust]
            check_eq(len(figures), 1, "the rollup's ICS figure")
            return figures[0]

        def rollup():
            return call(
                "GetBenefitRollup",
                "board-chair",
                bn.GetBenefitRollupRequest(parent=self.parent, period="2025/26"),
            )

        self.begin("x1")
        card = call(
            "CreateRateCard",
            "ics-analyst",
            bn.CreateRateCardRequest(
                parent=self.parent,
                rate_card_id="standard",
                rate_card=bnr.RateCard(
                    title="QUE benefits rate card",
                    factors=[
                        bnr.ConversionFactor(
                            from_unit="adverse drug reaction prevented",
                            to_unit="bed day",
                            factor="2450/850",
                            effective_from="2025-04-01",
                        )
                    ],
                    unit_values=[
                        bnr.UnitValue(unit="bed day", pounds="400.00", effective_from="2025-04-01")
                    ],
                ),
            ),
        ).rate_card
        check_eq(card.version, 1, "CreateRateCard: version")
        profile = bnr.Benefit(
            title="Fewer adverse drug reactions from allergy alerts",
            four_tests=bnr.FourTests(
                precisely="Significant adverse drug reactions prevented by an allergy alert",
                observable_outcome="Prescriptions changed after an interruptive alert",
                why_this_change="The alerts exist only since the change request",
                how_measured="Monthly pharmacy audit of alert overrides and changes",
            ),
            owners=[bnr.BenefitOwner(trust="RGT", owner=self.person("lead-rgt"))],
            senior_responsible_owner=self.person("ics-analyst"),
            category=bnr.CATEGORY_NON_CASH_RELEASING,
            dimension=bnr.DIMENSION_DIRECT,
            measure=bnr.Measure(
                unit="adverse drug reaction prevented",
                higher_is_better=True,
                aggregation=bnr.AGGREGATION_SUM,
            ),
            frequency=bnr.FREQUENCY_MONTHLY,
            enabling_change_requests=[cr.name],
            valuation=bnr.Valuation(
                rate_card=card.name, rate_card_version=1, units=["bed day"]
            ),
        )
        incomplete = bnr.Benefit()
        incomplete.CopyFrom(profile)
        incomplete.four_tests.why_this_change = " "
        self.invalid(
            "CreateBenefit",
            "ics-analyst",
            bn.CreateBenefitRequest(
                parent=self.parent, benefit_id="allergy-alerts", benefit=incomplete
            ),
            "benefit.four_tests.why_this_change",
        )
        made = call(
            "CreateBenefit",
            "ics-analyst",
            bn.CreateBenefitRequest(
                parent=self.parent, benefit_id="allergy-alerts", benefit=profile
            ),
        ).benefit
        check_eq(made.name, benefit, "CreateBenefit: name")
        self.ok(f"CreateRateCard, CreateBenefit as ics-analyst: {benefit} enabled by {cr.number}")

        self.begin("x2")
        for month, n in zip(MONTHS, COUNTS):
            m = call(
                "SubmitMeasurement",
                "analyst-rgt",
                bn.SubmitMeasurementRequest(
                    name=cell(month),
                    value=str(n),
                    evidence=bnr.Evidence(
                        note="Pharmacy audit of allergy alert outcomes",
                        link="https://intranet.example/audit",
                    ),
                ),
            ).measurement
            check_eq(m.state, bnr.MEASUREMENT_STATE_SUBMITTED, f"SubmitMeasurement {month}")
        refused(
            "SubmitMeasurement",
            "analyst-rgt",
            bn.SubmitMeasurementRequest(name=cell("2025-04", "RGM"), value="70"),
            "PERMISSION_DENIED",
            "TRUST_SCOPE",
        )
        self.ok(f"SubmitMeasurement as analyst-rgt: 12 months, {sum(COUNTS)} in all; RGM's refused")

        self.begin("x3")
        names = [cell(m) for m in MONTHS]
        refused(
            "ValidateMeasurements",
            "analyst-rgt",
            bn.ValidateMeasurementsRequest(names=names),
            "PERMISSION_DENIED",
            "OWN_SUBMISSION",
        )
        refused(
            "ValidateMeasurements",
            "lead-rgm",
            bn.ValidateMeasurementsRequest(names=names),
            "PERMISSION_DENIED",
            "TRUST_SCOPE",
        )
        validated = call(
            "ValidateMeasurements", "lead-rgt", bn.ValidateMeasurementsRequest(names=names)
        ).measurements
        check(
            all(m.state == bnr.MEASUREMENT_STATE_TRUST_VALIDATED for m in validated),
            "every cell TRUST_VALIDATED",
        )
        refused(
            "AcceptMeasurements",
            "lead-rgt",
            bn.AcceptMeasurementsRequest(names=names),
            "PERMISSION_DENIED",
            "NOT_AN_ACCEPTOR",
        )
        accepted = call(
            "AcceptMeasurements", "ics-analyst", bn.AcceptMeasurementsRequest(names=names)
        ).measurements
        check(
            all(m.state == bnr.MEASUREMENT_STATE_ICS_ACCEPTED for m in accepted),
            "every cell ICS_ACCEPTED",
        )
        self.ok("validated by lead-rgt (not the submitter), accepted by the ICS")

        self.begin("x4")
        over = bnr.Attribution(
            name=f"{benefit}/trusts/RGT/attributions/2025-26",
            shares=[bnr.Share(change_request=cr.name, percent="101")],
        )
        self.invalid(
            "SetAttribution",
            "lead-rgt",
            bn.SetAttributionRequest(attribution=over),
            "attribution.shares[0].percent",
        )
        over.shares[0].percent = "100"
        attribution = call(
            "SetAttribution", "lead-rgt", bn.SetAttributionRequest(attribution=over)
        ).attribution
        check_eq(attribution.unattributed_percent, "0", "SetAttribution: unattributed")
        r = rollup()
        f = ics_figure(r)
        check_eq(f.total.quantity, "850", "rollup: adverse drug reactions prevented")
        check_eq(f.total.converted, "2450", "rollup: bed days")
        check_eq(f.total.value.display, "£980,000.00", "rollup: value")
        check_eq(f.total.value.exact_pence, "98000000", "rollup: exact pence")
        check_eq((f.rate_card, f.rate_card_version), (card.name, 1), "rollup: the card used")
        e = f.evidence
        check_eq(
            (e.expected, e.submitted, e.validated, e.accepted),
            (48, 12, 12, 12),
            "rollup: cells expected (4 trusts × 12), submitted, validated, accepted",
        )
        check_eq(
            [(t.category, t.value.display) for t in r.totals],
            [(bnr.CATEGORY_NON_CASH_RELEASING, "£980,000.00")],
            "rollup: non-cash-releasing only",
        )
        check_eq(
            [(d.change_request, [t.value.display for t in d.totals]) for d in r.by_change_request],
            [(cr.name, ["£980,000.00"])],
            "rollup: delivered by the change request",
        )
        check_eq(
            [(c.change_request, c.amount.value.display) for c in f.by_change_request],
            [(cr.name, "£980,000.00")],
            "rollup: the ICS figure attributed 100%",
        )
        self.ok(
            "GetBenefitRollup QUE 2025/26: 850 reactions, 2,450 bed days, £980,000.00 "
            f"non-cash-releasing, 100% {cr.number}"
        )

        self.begin("x5")
        june = cell("2025-06")
        self.invalid(
            "ReopenMeasurement",
            "lead-rgt",
            bn.ReopenMeasurementRequest(name=june, reason=""),
            "reason",
        )
        call(
            "ReopenMeasurement",
            "lead-rgt",
            bn.ReopenMeasurementRequest(name=june, reason="June's audit double-counted one ward"),
        )
        check_eq(ics_figure(rollup()).total.quantity, "778", "rollup with June reopened")
        call("SubmitMeasurement", "analyst-rgt", bn.SubmitMeasurementRequest(name=june, value="71"))
        returned = call(
            "ReturnMeasurement",
            "lead-rgt",
            bn.ReturnMeasurementRequest(name=june, reason="Attach the re-audit"),
        ).measurement
        check_eq(returned.state, bnr.MEASUREMENT_STATE_RETURNED, "ReturnMeasurement: state")
        call(
            "SubmitMeasurement",
            "analyst-rgt",
            bn.SubmitMeasurementRequest(
                name=june, evidence=bnr.Evidence(note="Re-audit attached")
            ),
        )
        call("ValidateMeasurements", "lead-rgt", bn.ValidateMeasurementsRequest(names=[june]))
        check_eq(ics_figure(rollup()).total.quantity, "778", "rollup with June validated only")
        call("AcceptMeasurements", "ics-analyst", bn.AcceptMeasurementsRequest(names=[june]))
        again = ics_figure(rollup())
        check_eq(again.total.quantity, "849", "rollup with June accepted again")
        expected = Fraction(849) * Fraction(2450, 850) * 400 * 100
        check_eq(Fraction(again.total.value.exact_pence), expected, "rollup: exact pence")
        versions = call(
            "ListMeasurementVersions", "board-chair", bn.ListMeasurementVersionsRequest(name=june)
        ).versions
        check_eq(
            [bnr.MeasurementAction.Name(v.action).removeprefix("MEASUREMENT_ACTION_") for v in versions],
            [
                "SUBMITTED", "VALIDATED", "ACCEPTED", "REOPENED", "SUBMITTED",
                "RETURNED", "SUBMITTED", "VALIDATED", "ACCEPTED",
            ],
            "ListMeasurementVersions: June's history",
        )
        self.ok(
            f"June reopened (778), resubmitted, returned, validated (778), accepted: 849, "
            f"{again.total.value.display}; {len(versions)} versions"
        )

        self.begin("x6")
        chart = call(
            "GetBenefitChart",
            "board-chair",
            bn.GetBenefitChartRequest(
                benefit=benefit, trust="RGT", first_month="2025-04", last_month="2026-03"
            ),
        )
        check_eq(len(chart.points), 12, "GetBenefitChart: points")
        check_eq(chart.variation, bnr.VARIATION_ICON_COMMON_CAUSE, "GetBenefitChart: variation")
        case = call(
            "GetBusinessCase",
            "board-chair",
            bn.GetBusinessCaseRequest(parent=self.parent, first_year="2025/26", years=3),
        )
        check_eq(case.discount_rate_percent, "3.5", "GetBusinessCase: rate")
        check_eq(
            [
                t.value.display
                for t in case.present_value
                if t.category == bnr.CATEGORY_NON_CASH_RELEASING
            ],
            [again.total.value.display],
            "GetBusinessCase: present value (later years measured nothing)",
        )
        # Every event since the start (cursor 0 replays every retained one), until the 13th
        # acceptance; the Client resumes after the last cursor if the server goes away.
        watch = self.watch(
            "WatchBenefits",
            "board-chair",
            bn.WatchBenefitsRequest(parent=self.parent, cursor=0),
            timeout=self.args.timeout,
        )
        kinds = []
        try:
            for event in watch:
                kinds.append(event.kind)
                if kinds.count("measurement.accepted") == 13:
                    break
        finally:
            watch.close()
        check_eq(kinds.count("measurement.submitted"), 14, "WatchBenefits: submissions")
        check_eq(kinds.count("measurement.returned"), 1, "WatchBenefits: returns")
        self.ok(
            "GetBenefitChart: 12 points, common cause; GetBusinessCase at 3.5%; WatchBenefits: "
            "13 acceptances"
        )
