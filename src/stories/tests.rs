//! Matching, rule by rule and veto by veto, on short French texts of the kind partners
//! publish.

use super::*;
use chrono::TimeZone;

fn item(source: &str, url: &str, title: &str, summary: &str, day: u32) -> Item {
    let published = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap()
        + chrono::Duration::days(i64::from(day));
    Item {
        id: url.to_string(),
        source: Some(source.to_string()),
        url: Some(url.to_string()),
        canonical_url: Some(url.to_string()),
        title: title.to_string(),
        summary: summary.to_string(),
        content_html: None,
        published,
        updated: None,
        authors: Vec::new(),
        categories: Vec::new(),
        lang: Some("fr".to_string()),
        enclosures: Vec::new(),
        published_guessed: false,
        content_hash: "h".to_string(),
    }
}

fn f(source: &str, url: &str, title: &str, summary: &str, day: u32) -> Features {
    Features::of(&item(source, url, title, summary, day))
}

fn verdict(a: &Features, b: &Features) -> Verdict {
    compare(a, b, DEFAULT_WINDOW)
}

const IFRADEL: &str =
    "Jardins partagés, forêts sectionales, tiers-lieux : que font les communs aux \
    politiques locales ? Avec Racines Rurales, nous vous invitons le jeudi 10 décembre, de 9 h 30 \
    à 17 h, à la Maison des associations de Lyon.";
const RACINES: &str = "Sections de commune, estives collectives, tiers-lieux : la ruralité \
    regorge de communs. Nous les mettrons en débat avec l’IFRADEL lors d’une journée d’étude à \
    Lyon, le jeudi 10 décembre.";

#[test]
fn rule_url_same_page_across_sources() {
    let a = f(
        "ifradel",
        "https://ifradel.example.org/publications/synthese",
        "Publication : ce que la coopération change",
        "Notre équipe a enquêté dans six communes partenaires.",
        0,
    );
    let b = f(
        "confluences",
        "http://www.ifradel.example.org/publications/synthese/",
        "À lire : une enquête dans les communes du Sud",
        "L’IFRADEL a fait l’inverse : une enquête au Burkina Faso.",
        2,
    );
    assert_eq!(
        verdict(&a, &b),
        Verdict::Same(Match {
            rule: Rule::Url,
            score: 1.0
        })
    );
    // A home page proves nothing: some feeds link every item to it.
    let home_a = f(
        "x",
        "https://ex.org/",
        "Premier titre sans rapport aucun",
        "Un texte.",
        0,
    );
    let home_b = f(
        "y",
        "https://ex.org",
        "Autre titre sans rapport du tout",
        "Autre.",
        0,
    );
    assert_eq!(home_a.url_key, None);
    assert_eq!(verdict(&home_a, &home_b), Verdict::Different);
    // A feed that links every item to its news page: one partner's two items there are
    // two items, unless they say the same.
    let news = "https://partner.example.org/actualites";
    let x = f(
        "p",
        news,
        "Budget 2027 : les crédits maintenus",
        "Le conseil a voté.",
        0,
    );
    let y = f(
        "p",
        news,
        "Zinaré-Sud : une délégation reçue",
        "Visite du maire.",
        1,
    );
    assert_eq!(verdict(&x, &y), Verdict::Different);
    let x_again = f(
        "p",
        news,
        "Budget 2027 : les crédits maintenus",
        "Le conseil a voté.",
        1,
    );
    assert!(matches!(
        verdict(&x, &x_again),
        Verdict::Same(Match {
            rule: Rule::Url,
            ..
        })
    ));
}

#[test]
fn rule_title_folds_accents_case_punctuation_and_elisions() {
    let a = f(
        "cuf",
        "https://cuf.example.org/a",
        "Coopération décentralisée : l’état des lieux en Afrique de l’Ouest",
        "Premier résumé.",
        0,
    );
    let b = f(
        "resacoop",
        "https://resacoop.example.org/b",
        "COOPERATION DECENTRALISEE – L'ETAT DES LIEUX EN AFRIQUE DE L'OUEST !",
        "Un autre résumé, tout à fait différent.",
        3,
    );
    assert_eq!(a.title_key, b.title_key);
    assert!(matches!(
        verdict(&a, &b),
        Verdict::Same(Match {
            rule: Rule::Title,
            ..
        })
    ));
    // Outside the window, no rule applies.
    let late = f(
        "resacoop",
        "https://resacoop.example.org/c",
        "Coopération décentralisée : l’état des lieux en Afrique de l’Ouest",
        "Un autre résumé.",
        70,
    );
    assert_eq!(verdict(&a, &late), Verdict::Different);
    // Short and generic titles do not count.
    for title in [
        "Agenda",
        "Édito",
        "Lettre d’information n°12",
        "Mission de suivi à Zorgho",
        "Appel à projets 2021",
        "Assemblée générale 2024",
    ] {
        let x = f("a", "https://a.example.org/1", title, "Texte un.", 0);
        assert_eq!(x.title_key, None, "{title}");
    }
    // A title derived from the summary is none.
    let derived = f(
        "a",
        "https://a.example.org/2",
        "Retour en images sur le chantier de réhabilitation de quatre forages…",
        "Retour en images sur le chantier de réhabilitation de quatre forages mené en octobre.",
        0,
    );
    assert_eq!(derived.title_key, None);
}

#[test]
fn rule_text_matches_a_rewritten_cross_post() {
    let a = f(
        "ifradel",
        "https://ifradel.example.org/journee-communs",
        "Journée d’étude « Faire territoire avec les communs » le 10 décembre à Lyon",
        IFRADEL,
        16,
    );
    let b = f(
        "racines-rurales",
        "https://racines-rurales.example.net/journee-communs",
        "Communs territoriaux : une journée d’étude avec l’IFRADEL, le 10 décembre à Lyon",
        RACINES,
        18,
    );
    match verdict(&a, &b) {
        Verdict::Same(m) => {
            assert_eq!(m.rule, Rule::Text);
            assert!(m.score >= TEXT_THRESHOLD && m.score <= 1.0, "{m:?}");
        }
        other => panic!("expected a text match, got {other:?}"),
    }
    // The same source saying it again in other words is another announcement.
    let again = f(
        "ifradel",
        "https://ifradel.example.org/journee-communs-rappel",
        "Communs territoriaux : une journée d’étude avec Racines Rurales, le 10 décembre à Lyon",
        RACINES,
        20,
    );
    assert_eq!(verdict(&a, &again), Verdict::Different);
    // Unrelated items of the same network do not match.
    let other = f(
        "valmont",
        "https://valmont.example.org/budget",
        "Budget 2027 : l’action internationale de la Métropole maintenue",
        "Malgré un budget contraint, le conseil maintient les crédits des coopérations.",
        17,
    );
    assert_eq!(verdict(&a, &other), Verdict::Different);
}

#[test]
fn text_needs_an_anchor_and_a_higher_score_far_apart() {
    // Same words, no name, number or date in common: not enough.
    let a = f(
        "lettre",
        "https://l.example.org/1",
        "Dossier du mois : où en est la coopération décentralisée franco-tunisienne ?",
        "Une soixantaine de partenariats entre collectivités françaises et tunisiennes sont \
         actifs. Notre dossier fait le point sur leurs priorités.",
        0,
    );
    let b = f(
        "revue",
        "https://r.example.org/1",
        "Dossier du mois : où en est la coopération décentralisée franco-marocaine ?",
        "Les partenariats entre collectivités françaises et marocaines se recomposent. \
         Notre dossier fait le point sur leurs priorités.",
        3,
    );
    let (score, anchored) = text_score(&a, &b);
    assert!(score >= TEXT_THRESHOLD && !anchored, "{score} {anchored}");
    assert_eq!(verdict(&a, &b), Verdict::Different);
    assert!((threshold(0.0) - TEXT_THRESHOLD).abs() < 1e-9);
    assert!((threshold(60.0 * 86_400.0) - TEXT_THRESHOLD_FAR).abs() < 1e-9);
    assert!(threshold(40.0 * 86_400.0) > TEXT_THRESHOLD);
}

#[test]
fn a_named_publisher_is_an_anchor() {
    let text = f(
        "odl",
        "https://o.example.net/1",
        "",
        "Cap Rural met en ligne les actes de ses rencontres sur l’accueil de nouveaux \
         habitants. Cités Unies France en parle aussi.",
        0,
    );
    assert!(text.mentions("cap-rural"));
    assert!(text.mentions("caprural"));
    assert!(text.mentions("cuf"));
    assert!(!text.mentions("ciedel"));
    assert!(!text.mentions("ab"));
}

/// Two items that would merge but for one differing fact.
fn vetoed(a_text: (&str, &str), b_text: (&str, &str)) -> Verdict {
    let a = f("a", "https://a.example.org/x", a_text.0, a_text.1, 0);
    let b = f("b", "https://b.example.org/y", b_text.0, b_text.1, 5);
    verdict(&a, &b)
}

#[test]
fn veto_on_event_dates() {
    let v = vetoed(
        (
            "Permanence conseil à Chambéry",
            "Un chargé de mission de RESACOOP reçoit les porteurs de projets le mercredi 10 avril \
             de 14 h à 17 h, sur rendez-vous.",
        ),
        (
            "Permanence conseil à Chambéry",
            "Un chargé de mission de RESACOOP reçoit les porteurs de projets le mercredi 3 avril \
             de 14 h à 17 h, sur rendez-vous.",
        ),
    );
    assert_eq!(v, Verdict::Vetoed(Veto::Date));
    // Numeric dates and abbreviations count too; a shared date does not veto.
    let a = f(
        "a",
        "https://a.example.org/1",
        "Réunion",
        "Réunion le 03/07/2019 à 10 h.",
        0,
    );
    let b = f(
        "b",
        "https://b.example.org/1",
        "Réunion",
        "Rendez-vous le 3 juil. 2019.",
        0,
    );
    assert_eq!(veto(&a, &b), None);
    let c = f(
        "c",
        "https://c.example.org/1",
        "Réunion",
        "Rendez-vous le 10 déc.",
        0,
    );
    assert_eq!(veto(&a, &c), Some(Veto::Date));
}

#[test]
fn veto_on_years() {
    let v = vetoed(
        (
            "Trophées Climat & Coopération 2020 : six projets distingués",
            "Six partenariats entre collectivités françaises et étrangères récompensés.",
        ),
        (
            "Trophées Climat & Coopération 2021 : six projets distingués",
            "Six partenariats entre collectivités françaises et étrangères récompensés.",
        ),
    );
    assert_eq!(v, Verdict::Vetoed(Veto::Year));
}

#[test]
fn veto_on_places() {
    let v = vetoed(
        (
            "Guide « Jumelages et coopérations en milieu rural » : présentation à Bourg-en-Bresse",
            "Le guide coédité avec Confluences Solidaires est présenté aux comités de jumelage.",
        ),
        (
            "Guide « Jumelages et coopérations en milieu rural » : présentation à Roanne",
            "Le guide coédité avec Racines Rurales est présenté aux comités de jumelage.",
        ),
    );
    assert_eq!(v, Verdict::Vetoed(Veto::Place));
}

#[test]
fn veto_on_edition_and_phase_numbers() {
    let cases = [
        (
            "Le CIEDEL aux 10es Rencontres de CUF",
            "Les 11es Rencontres de CUF",
        ),
        (
            "Recherche-action : la deuxième phase démarre",
            "Recherche-action : les résultats de la phase 1",
        ),
        (
            "Enquête flash n°1 : les missions",
            "Enquête flash n°2 : les missions",
        ),
    ];
    for (x, y) in cases {
        let body = "Les collectivités partenaires de Zinaré-Sud font le point sur le programme.";
        assert_eq!(
            vetoed((x, body), (y, body)),
            Verdict::Vetoed(Veto::Edition),
            "{x} / {y}"
        );
    }
}

#[test]
fn veto_call_versus_results() {
    let v = vetoed(
        (
            "Appel à projets « Solidarité eau » : déposez vos dossiers",
            "Les associations de Valmont qui portent un projet d’eau peuvent solliciter 25 000 €.",
        ),
        (
            "« Solidarité eau » : les lauréats",
            "Le jury a retenu neuf projets d’eau portés par des associations de Valmont.",
        ),
    );
    assert_eq!(v, Verdict::Vetoed(Veto::CallResults));
}

#[test]
fn veto_workshop_versus_the_whole_gathering() {
    let v = vetoed(
        (
            "L’IFRADEL aux Rencontres 2025 de l’ATC : un atelier sur la participation",
            "Les 9 et 10 décembre 2025, à Bordeaux, l’Alliance réunit ses membres pour ses \
             Rencontres nationales. L’institut y animera un atelier.",
        ),
        (
            "Rencontres nationales 2025 : les inscriptions sont ouvertes",
            "Rendez-vous les 9 et 10 décembre à Bordeaux pour deux jours d’échanges entre \
             élus et partenaires de l’Alliance.",
        ),
    );
    assert_eq!(v, Verdict::Vetoed(Veto::Part));
}

#[test]
fn a_veto_overrides_even_the_same_url() {
    let a = f(
        "a",
        "https://ex.org/appel-a-projets",
        "Appel à projets 2020 : déposez vos dossiers",
        "Dossiers avant le 31 mars.",
        0,
    );
    let b = f(
        "b",
        "https://ex.org/appel-a-projets",
        "Appel à projets 2020 : les lauréats",
        "Le jury a retenu douze projets.",
        3,
    );
    assert_eq!(verdict(&a, &b), Verdict::Vetoed(Veto::CallResults));
}

#[test]
fn decide_joins_the_best_story_no_member_vetoes() {
    let new = f(
        "racines-rurales",
        "https://racines-rurales.example.net/journee",
        "Communs territoriaux : une journée d’étude avec l’IFRADEL, le 10 décembre à Lyon",
        RACINES,
        18,
    );
    let ifradel = f(
        "ifradel",
        "https://ifradel.example.org/journee",
        "Journée d’étude « Faire territoire avec les communs » le 10 décembre à Lyon",
        IFRADEL,
        16,
    );
    let same_url = f(
        "confluences",
        "https://racines-rurales.example.net/journee",
        "Communs et territoires : une journée à ne pas manquer",
        "Nos membres organisent une journée d’étude sur les communs à Lyon.",
        19,
    );
    let old_edition = f(
        "racines-rurales",
        "https://racines-rurales.example.net/actes-2025",
        "Journée d’étude « Communs et ruralités » 2025 : les actes",
        "La journée organisée avec l’IFRADEL le 13 novembre 2025 à Clermont-Ferrand.",
        10,
    );
    let w = DEFAULT_WINDOW;
    // The text match alone.
    let g1 = Group {
        story: 1,
        members: vec![(10, &ifradel)],
        forbidden: false,
    };
    let j = decide(&new, std::slice::from_ref(&g1), w).expect("joins story 1");
    assert_eq!((j.story, j.rule, j.with), (1, Rule::Text, 10));
    // A same-URL match ranks above it.
    let g2 = Group {
        story: 2,
        members: vec![(20, &same_url)],
        forbidden: false,
    };
    let j = decide(&new, &[g1.clone(), g2.clone()], w).unwrap();
    assert_eq!((j.story, j.rule), (2, Rule::Url));
    // A member of story 1 that vetoes keeps the new item out of it.
    let g1_vetoed = Group {
        story: 1,
        members: vec![(10, &ifradel), (11, &old_edition)],
        forbidden: false,
    };
    assert_eq!(decide(&new, &[g1_vetoed], w), None);
    // An operator's split forbids a story.
    let g2_forbidden = Group {
        forbidden: true,
        ..g2
    };
    let j = decide(&new, &[g1, g2_forbidden], w).unwrap();
    assert_eq!(j.story, 1);
    assert_eq!(decide(&new, &[], w), None);
}

#[test]
fn english_versions_share_words_through_the_lexicon() {
    let fr = f(
        "cuf",
        "https://cuf.example.org/etude",
        "Étude : les budgets européens de coopération décentralisée en recul",
        "Fondée sur une enquête auprès de 310 communes et régions de neuf pays, l’étude montre \
         que les budgets ont reculé de 12 % entre 2019 et 2020.",
        0,
    );
    let en = f(
        "cuf-en",
        "https://cuf.example.org/en/study",
        "Study: European decentralised cooperation budgets are shrinking",
        "Based on a survey of 310 municipalities and regions in nine countries, the study \
         shows that budgets fell by 12% between 2019 and 2020.",
        7,
    );
    assert!(
        matches!(verdict(&fr, &en), Verdict::Same(_)),
        "{:?}",
        verdict(&fr, &en)
    );
}

#[test]
fn features_never_panic_on_odd_input() {
    for (title, summary) in [
        ("", ""),
        ("…", "…"),
        ("1/2/3/4", "99/99/9999 le 0 janvier 31 février"),
        ("n°", "°°° à"),
        ("à", "À"),
        ("ʼʼʼ", "’’"),
        ("Le 1er", "du au et"),
    ] {
        let x = f("a", "not a url", title, summary, 0);
        let _ = compare(&x, &x, DEFAULT_WINDOW);
        let _ = x.signature();
    }
}
