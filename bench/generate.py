"""Generate realistic French interview transcripts for qcode's scale tests.

The corpus imitates the bundled (fictional) study: semi-structured interviews about
neighbourhood initiatives in Paris — how they started, the first lockdown, the courtyard,
governance, subsidies, the landlord and the town hall, conflicts, the social ties they built.
Sentences are assembled from templates and a vocabulary with seeded :class:`random.Random`
generators, so a corpus is the same byte for byte for a given ``count`` and ``seed`` (file ``i``
depends only on the seed, ``i`` and the format the mix gives it). It is not literature, but it is
varied enough that word counts, turn structure and parsing costs are those of real transcripts.

Every file is 800–2,500 words of speech with two or three speakers, and uses the conventions of
the bundled study: a header block (title, ``Date :``, ``Lieu :``, ``Enquêtrice :``…), speaker
labels ``E :``, ``Enquêtrice :``, ``Enq. :``, ``Q :``/``R :``, ``I:``/``P1:``, initials, pseudonyms,
``Josiane (78 ans) :``, with a space, U+00A0 or U+202F before the colon, timestamps, hesitations
(*euh*, ``[rires]``, ``…``). Formats, mostly ``.txt`` and ``.md``:

- ``.txt`` (UTF-8, UTF-8 with BOM, UTF-16, cp1252 with CRLF; some f4-style ``#00:01:02-3#``),
  and Otter.ai text exports;
- ``.md`` with bold labels, YAML front matter or a header block;
- ``.docx`` (python-docx) with bold labels, or without labels and bold questions;
- ``.odt`` written by hand (a ZIP with ``mimetype`` stored first, ``content.xml``,
  ``META-INF/manifest.xml``);
- ``.vtt`` in Zoom, Teams and WhisperX styles, ``.srt`` in Zoom and WhisperX styles;
- ``.trs`` (Transcriber XML, ISO-8859-1, events and overlapping speech);
- ``.csv`` turn tables (``time,speaker,text``).

An ``attributes.csv`` sheet (id, participant, initiative, role, arrondissement, gender, age band,
date, interviewer) is written next to the transcripts.

Usage::

    python -m bench.generate OUT_DIR --count 400 --seed 1
    python -c "from bench.generate import generate_corpus; generate_corpus('out', 40)"
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import itertools
import random
import re
import sys
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

# --------------------------------------------------------------------------------------------
# The fictional world

# format name → (extension, weight in the mix); "otter" is an Otter.ai export saved as .txt
FORMATS: dict[str, tuple[str, int]] = {
    "txt": (".txt", 34),
    "md": (".md", 20),
    "docx": (".docx", 8),
    "odt": (".odt", 5),
    "vtt": (".vtt", 8),
    "srt": (".srt", 5),
    "trs": (".trs", 4),
    "otter": (".txt", 8),
    "csv": (".csv", 8),
}

ATTRIBUTE_COLUMNS = ("id", "participant", "initiative", "role", "arrondissement", "gender",
                     "age_band", "date", "interviewer")


@dataclass(frozen=True, slots=True)
class Initiative:
    prefix: str
    slug: str
    name: str
    arrondissement: int
    site: str  # where it happens: "la résidence des Lilas"
    bailleur: str  # the social landlord
    local: str  # the room the association uses


INITIATIVES: tuple[Initiative, ...] = (
    Initiative("JL", "jardin-des-lilas", "Le Jardin des Lilas", 20, "la résidence des Lilas",
               "Habitat des Lilas", "le local du bâtiment A"),
    Initiative("CC", "cour-commune", "La Cour commune", 18, "la cour du 12",
               "Logis du Nord", "l’ancienne loge"),
    Initiative("VR", "voisins-roquette", "Voisins solidaires de la Roquette", 11,
               "la rue [nom de la rue]", "Paris Habitat Est", "l’arrière-salle du café"),
    Initiative("AB", "amicale-bellevue", "Amicale des locataires de Bellevue", 19,
               "la cité Bellevue", "Foyer parisien", "la salle commune du bâtiment D"),
    Initiative("RC", "repair-cafe", "Le Repair café du Square", 12, "le square [nom du square]",
               "Résidences de l’Est", "le local prêté par la paroisse"),
    Initiative("CP", "cantine-partagee", "La Cantine partagée", 10, "le passage [nom]",
               "Logement francilien", "la cuisine du centre social"),
    Initiative("BR", "bibliotheque-de-rue", "La Bibliothèque de rue", 15,
               "la résidence du Parc", "Habitat des Buttes", "le préfabriqué du parc"),
    Initiative("AQ", "ateliers-du-quartier", "Les Ateliers du quartier", 13,
               "la dalle [nom de la dalle]", "Toit commun", "le rez-de-chaussée du 8"),
)

INTERVIEWERS: tuple[tuple[str, str], ...] = (
    ("Claire Morel", "f"), ("Yanis Benali", "m"), ("Sophie Laurent", "f"), ("Hugo Perrin", "m"),
    ("Inès Garcia", "f"), ("Mathieu Roux", "m"), ("Léa Dubois", "f"), ("Antoine Mercier", "m"),
)

FIRST_NAMES_F: tuple[str, ...] = (
    "Agnès", "Fatou", "Nadia", "Sandrine", "Josiane", "Yasmine", "Leïla", "Khadija", "Élodie",
    "Hawa", "Louise", "Camille", "Odile", "Samira", "Aminata", "Mireille", "Sylvie", "Chantal",
    "Zohra", "Aïcha", "Martine", "Hélène", "Maëlle", "Salomé", "Rokia", "Mariam", "Nathalie",
    "Lucie", "Bintou", "Monique", "Françoise", "Djeneba", "Anaïs", "Gisèle", "Naïma", "Rose",
)
FIRST_NAMES_M: tuple[str, ...] = (
    "Bernard", "Mehdi", "Thomas", "Julien", "Karim", "Moussa", "Paulo", "Rachid", "Michel",
    "Ahmed", "Didier", "Mamadou", "Franck", "Jean-Pierre", "Omar", "Sébastien", "Lucas",
    "Youssef", "Gérard", "Hamid", "Vincent", "Kevin", "Abdel", "Patrick", "Lamine", "Théo",
    "Nordine", "Alain", "Jacques", "Bruno", "René", "Samuel", "Ousmane", "Dylan",
)
SURNAMES: tuple[str, ...] = (
    "Ferrand", "Roussel", "Garnier", "Besnard", "Lefebvre", "Vidal", "Caron", "Da Silva",
    "Traoré", "Moreau", "Lambert", "Fontaine", "Chevalier", "Benhamou", "Diallo", "Marchand",
    "Perrot", "Nguyen", "Rivière", "Haddad", "Leroy", "Colin", "Dumas", "Barbier", "Koné",
)

@dataclass(frozen=True, slots=True)
class Role:
    weight: int  # how often it comes up in the corpus
    man: str  # description in the header, for a man
    woman: str  # … for a woman
    formal: bool  # pseudonym as "M. X" / "Mme X" rather than a first name


ROLES: dict[str, Role] = {
    "porteur": Role(3, "porteur de projet, président de l’association",
                    "porteuse de projet, présidente de l’association", False),
    "membre": Role(6, "membre, bénévole", "membre, bénévole", False),
    "elu": Role(1, "adjoint au maire du {arr}, vie associative",
                "adjointe au maire du {arr}, démocratie locale", True),
    "agent-dev-local": Role(1, "chargé de développement local, {arr}",
                            "chargée de développement local, {arr}", False),
    "bailleur": Role(1, "responsable de secteur, {bailleur}",
                     "responsable de secteur, {bailleur}", True),
    "gardien": Role(1, "gardien, {site}", "gardienne, {site}", True),
    "partenaire": Role(1, "directeur du centre social", "directrice du centre social", False),
}
INSTITUTIONAL = frozenset({"elu", "agent-dev-local", "bailleur", "partenaire"})
AGE_BANDS: tuple[str, ...] = ("20-29", "30-39", "40-49", "50-59", "60-69", "70-79")
MONTHS: tuple[str, ...] = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)

# --------------------------------------------------------------------------------------------
# Vocabulary: {slot} → choices. "_cap" after a slot name capitalises it; {e} is the feminine
# ending of the speaker ("arrivé{e}"), {e_p} that of the participant (in questions).

SLOTS: dict[str, tuple[str, ...]] = {
    "voisin": (
        "la dame du troisième", "le monsieur du rez-de-chaussée", "la voisine du dessous",
        "les jeunes du C", "les anciens du B", "la famille du sixième", "mon voisin de palier",
        "les mamans de l’école", "le couple de retraités du 14", "la petite dame au chien",
        "le cordonnier du coin", "les étudiants de la colocation", "la gardienne",
        "une voisine qui vit seule", "le fils de la boulangère",
    ),
    "lieu": (
        "la cour", "le hall du B", "le square", "la loge", "le local", "le jardin partagé",
        "le parking", "la salle commune", "le pied de l’immeuble", "la rue", "la dalle",
        "le préau de l’école", "l’entrée du bâtiment D", "le petit parc derrière",
    ),
    "activite": (
        "la fête des voisins", "la distribution alimentaire", "l’aide aux devoirs",
        "le repair café", "la boîte à livres", "les paniers solidaires", "le vide-grenier",
        "les cours de français", "la permanence du jeudi", "le nettoyage de la cour",
        "les repas partagés", "la ludothèque", "le potager", "la collecte de vêtements",
        "le ciné en plein air", "la sortie à la mer", "le goûter des enfants",
        "l’atelier couture", "la tournée des personnes âgées",
    ),
    "institution": (
        "la mairie", "la mairie d’arrondissement", "le bailleur", "la CAF", "le centre social",
        "la politique de la ville", "la préfecture", "l’équipe de développement local",
        "la Ville", "le conseil de quartier", "la régie de quartier", "le conseil citoyen",
    ),
    "dispositif": (
        "le budget participatif", "un appel à projets", "le fonds de participation des habitants",
        "une subvention de fonctionnement", "la convention avec le bailleur",
        "le contrat de ville", "une aide d’une fondation", "la réserve parlementaire",
    ),
    "somme": (
        "cinq cents euros", "mille deux cents euros", "trois mille euros", "huit mille euros",
        "quinze mille euros", "deux mille cinq cents euros", "quatre cents euros",
    ),
    "nombre": (
        "deux", "trois", "une dizaine de", "une vingtaine de", "quarante", "cinquante", "cent",
        "deux cents", "une quinzaine de", "une trentaine de",
    ),
    "peu": ("deux", "trois", "quatre", "cinq"),
    "annee": tuple(str(y) for y in range(1988, 2022)),
    "recent": ("2016", "2017", "2018", "2019", "2020", "2021"),
    "jour": (
        "le mardi soir", "le samedi matin", "le jeudi", "tous les quinze jours",
        "une fois par mois", "le dimanche", "le mercredi après-midi", "chaque premier lundi",
    ),
    "probleme": (
        "l’ascenseur en panne", "les punaises de lit", "les charges de chauffage",
        "les infiltrations", "le bruit le soir", "les poubelles qui débordent",
        "le trafic en bas", "les travaux qui traînent", "les caves inondées",
        "la porte du hall cassée", "les rats dans le local poubelles", "le chauffage coupé",
    ),
    "objet": (
        "des masques", "des attestations", "des courses", "des colis", "des plantes",
        "des livres", "des tables", "des chaises", "des médicaments", "des gâteaux",
        "des jouets", "des ordinateurs reconditionnés",
    ),
    "reseau": (
        "le groupe WhatsApp", "la liste mail", "le panneau dans le hall", "la page Facebook",
        "le bouche-à-oreille", "le papier scotché dans l’ascenseur", "le groupe Signal",
    ),
    "gouvernance": (
        "un bureau", "une assemblée générale", "un conseil d’administration",
        "une réunion mensuelle", "une réunion ouverte",
    ),
    "personne": FIRST_NAMES_F[:20] + FIRST_NAMES_M[:20],
    "duree": (
        "deux ans", "six mois", "quinze ans", "trente ans", "toujours", "dix ans", "trois ans",
        "vingt-cinq ans", "huit ans",
    ),
    "moment": (
        "un soir", "un dimanche", "en plein hiver", "juste avant l’été", "pendant le ramadan",
        "à la rentrée", "un jour de grève", "le soir du réveillon", "un lundi de pluie",
    ),
    "ville": (
        "Lyon", "Marseille", "Bamako", "Alger", "Nantes", "Lille", "Porto", "Dakar", "Rennes",
        "Montreuil", "Tunis", "Saint-Denis", "Oran", "Abidjan",
    ),
    "etage": (
        "rez-de-chaussée", "deuxième", "quatrième", "sixième", "dixième", "premier",
        "troisième", "septième",
    ),
    "travail": (
        "à l’hôpital", "dans une école", "dans le bâtiment", "à la RATP",
        "dans une agence de voyages", "dans la restauration", "de nuit",
        "à mi-temps dans une crèche", "dans un supermarché", "comme aide à domicile",
        "dans un bureau d’études", "à la Poste",
    ),
    "enfants": (
        "deux enfants", "trois enfants", "une fille de douze ans", "des jumeaux",
        "un fils au collège", "quatre petits-enfants",
    ),
    "cotisation": ("cinq euros", "dix euros", "quinze euros", "deux euros symboliques"),
    "objet_conflit": (
        "poubelles", "places de parking", "clés du local", "plantes", "poussettes dans le hall",
        "barbecue", "vélos dans la cour",
    ),
    "projet": (
        "végétaliser la cour", "ouvrir une épicerie solidaire", "rénover le local",
        "faire une fresque sur le mur du parking", "créer une conciergerie solidaire",
        "monter une ludothèque", "installer des composteurs", "refaire l’aire de jeux",
    ),
}

# Participant sentences, by topic.
ANSWERS: dict[str, tuple[str, ...]] = {
    "parcours": (
        "Moi je suis arrivé{e} dans le quartier en {annee}, on venait de {ville}.",
        "J’habite {site} depuis {duree}, au {etage}.",
        "Avant, je connaissais personne ici, à part {voisin}.",
        "Je travaille {travail}, donc le soir je suis souvent crevé{e}.",
        "J’ai {enfants}, ça aide à connaître du monde, l’école, le square, tout ça.",
        "Au début je sortais pas beaucoup, je faisais le trajet boulot, maison, et c’est tout.",
        "Mes parents habitaient déjà {site}, donc je connais les gens depuis que je suis petit{e}.",
        "Je suis à la retraite depuis {duree}, et franchement je m’ennuyais un peu.",
        "On a eu un logement ici en {annee}, après des années d’attente.",
        "Je suis pas du genre à aller dans les associations, moi, au départ.",
        "Ce qui m’a fait rester, c’est les gens, clairement.",
        "Ici c’est un quartier où on se dit bonjour, mais on se connaît pas vraiment.",
        "Mon mari travaillait {travail}, on se croisait à peine, alors moi je tournais en rond.",
        "Je suis né{e} à {ville}, je suis arrivé{e} à Paris pour les études et je suis resté{e}.",
        "Le {arr}, je l’ai vu changer, les loyers, les commerces, les gens.",
    ),
    "debuts": (
        "Au début c’était pas une association, c’était {nombre} voisins autour de {activite}.",
        "Tout a commencé avec {probleme}, et comme personne ne bougeait, on s’est dit qu’il "
        "fallait faire quelque chose.",
        "C’est {voisin} qui a eu l’idée, {moment}, dans {lieu}.",
        "On a fait une première réunion dans {lieu}, il y avait {nombre} personnes, on n’en "
        "revenait pas.",
        "{asso}, au départ, c’était juste un nom qu’on avait trouvé en rigolant.",
        "On a déposé les statuts en {recent}, parce que sans association on pouvait rien demander.",
        "Le premier truc qu’on a organisé, c’était {activite}, et ça a super bien marché.",
        "Il a fallu faire du porte-à-porte, immeuble par immeuble, pour expliquer ce qu’on voulait "
        "faire.",
        "Les gens étaient méfiants, ils pensaient qu’on faisait de la politique.",
        "On a mis une affiche dans le hall avec le numéro de {personne}, et le téléphone a pas "
        "arrêté de sonner.",
        "J’ai rejoint le groupe un peu par hasard, parce que {voisin} m’a tiré{e} par la manche.",
        "L’idée, c’était de se rendre service, rien de plus compliqué que ça.",
        "Au début on était très peu, trois ou quatre, toujours les mêmes.",
        "On se retrouvait dans {local}, avec trois chaises et une bouilloire.",
        "La première fois, je suis venu{e} pour voir, et je suis jamais reparti{e}.",
    ),
    "confinement": (
        "Pendant le premier confinement, on faisait les courses pour {voisin}.",
        "{reseau_cap} est passé de {nombre} personnes à plus de deux cents en une semaine.",
        "On imprimait des attestations pour ceux qui avaient pas d’imprimante.",
        "Il y avait des gens qui n’avaient plus rien à manger, des familles entières, et personne "
        "le savait.",
        "On a organisé {activite} dans {lieu}, avec les masques, les distances, tout.",
        "Le soir à vingt heures, on applaudissait aux fenêtres, et c’est là qu’on a vu les visages "
        "de tout le monde.",
        "J’ai cousu des masques pendant des semaines, je sais même plus combien.",
        "Le confinement, ça a été horrible pour plein de gens, mais pour le quartier, ça a été un "
        "déclic.",
        "Les personnes âgées étaient seules, complètement seules, alors on les appelait tous les "
        "jours.",
        "On déposait {objet} devant les portes, on sonnait et on repartait.",
        "Quand ça a rouvert, on avait peur que tout retombe, et en partie c’est ce qui s’est "
        "passé.",
        "Je me souviens d’une dame qui pleurait au téléphone parce qu’elle avait parlé à personne "
        "depuis dix jours.",
        "La mairie nous a appelés au bout de trois semaines pour savoir ce qu’on faisait.",
        "Les enfants faisaient l’école à la maison, et il y avait un seul ordinateur pour quatre.",
        "On a fait une liste de qui avait besoin de quoi, sur {reseau}, et ça tournait.",
    ),
    "cour": (
        "{lieu_cap}, avant, c’était un endroit où on passait sans s’arrêter.",
        "On a installé des bancs dans {lieu}, et au début le bailleur a râlé.",
        "L’été, on sort les tables dans la cour, chacun apporte un plat.",
        "Il y a eu des plaintes pour le bruit, forcément, quand il y a du monde le soir.",
        "Les enfants jouent dans la cour maintenant, avant les parents les laissaient pas "
        "descendre.",
        "Le jardin, c’est {nombre} bacs, et chaque bac a sa famille.",
        "Ce qui a changé, c’est qu’on se croise, on s’arrête, on discute cinq minutes.",
        "{lieu_cap}, c’est un peu notre salon à tous.",
        "On a repeint le hall avec les jeunes, le bailleur a fourni la peinture.",
        "Il faut dire que la cour était dans un état, avec {probleme}.",
        "Les anciens s’assoient sur le muret, les jeunes un peu plus loin, et tout le monde se "
        "regarde.",
        "Quand il fait beau, il y a toujours quelqu’un dans la cour, et ça, c’est nouveau.",
        "Le local, on l’a eu après deux ans de négociation avec {bailleur}.",
    ),
    "gouvernance": (
        "On a {gouvernance} {jour}, mais honnêtement, c’est toujours les mêmes qui viennent.",
        "Les décisions, on les prend ensemble, enfin en théorie.",
        "Il y a eu des tensions au moment de l’élection du bureau, je vais pas vous mentir.",
        "Le problème, c’est que tout repose sur {peu} personnes.",
        "On essaie de faire tourner les rôles, mais les gens ont peur de prendre des "
        "responsabilités.",
        "Le président, c’est {personne}, mais en vrai c’est plutôt collégial.",
        "On vote à main levée, c’est plus simple, et personne veut des bulletins.",
        "Quand il y a un désaccord, on en reparle à la réunion suivante, on laisse décanter.",
        "Certains voudraient qu’on soit plus structurés, d’autres disent que ça tuerait l’esprit "
        "du début.",
        "La trésorerie, c’est {personne} qui s’en occupe, avec un tableau Excel.",
        "Il y a des gens qui viennent une fois et qu’on revoit plus, c’est normal.",
        "On a écrit une charte, deux pages, pour dire ce qu’on fait et ce qu’on fait pas.",
        "Le compte rendu, on l’envoie sur {reseau}, mais je suis pas sûr{e} que les gens le "
        "lisent.",
    ),
    "subventions": (
        "On a eu {somme} avec {dispositif}, mais le dossier, c’était un enfer.",
        "Le problème des subventions, c’est qu’on passe plus de temps à remplir des dossiers qu’à "
        "faire des choses avec les gens.",
        "La première année, on avait zéro euro, on faisait tout avec les cotisations.",
        "L’adhésion, c’est {cotisation} par an, et ceux qui peuvent pas payer, ils payent pas.",
        "{institution_cap} nous a aidés pour le matériel, les tables, les barnums.",
        "Pour {dispositif}, il fallait un bilan, des indicateurs, on savait même pas ce que "
        "c’était.",
        "L’argent, ça change les relations, tout d’un coup il faut rendre des comptes.",
        "On a failli refuser la subvention, parce qu’on voulait pas dépendre de la mairie.",
        "Ce qui coûte le plus cher, c’est l’assurance et les fournitures, le reste c’est du "
        "bénévolat.",
        "On a fait un vide-grenier pour financer {activite}, ça nous a rapporté {somme}.",
        "Sans {institution}, on aurait jamais pu embaucher quelqu’un, même à mi-temps.",
        "Chaque année on se demande si la subvention va être renouvelée.",
    ),
    "institutions": (
        "Avec {institution}, ça dépend vraiment des personnes.",
        "{bailleur}, au début, nous considérait comme des enquiquineurs, maintenant on est des "
        "partenaires.",
        "Le gardien, c’est un relais essentiel, il connaît tout le monde.",
        "On a été reçus à la mairie d’arrondissement, on nous a beaucoup écoutés, et après, rien.",
        "Les élus viennent aux fêtes, ils font des photos, et on les revoit l’année d’après.",
        "Le centre social nous prête une salle {jour}, sans ça on serait à la rue.",
        "On a envoyé {nombre} courriers au bailleur pour {probleme}, on a eu une réponse au bout "
        "de six mois.",
        "Il y a une personne à {institution} qui nous a vraiment soutenus, qui nous a expliqué "
        "comment ça marche.",
        "Quand on est une association, on est pris plus au sérieux, c’est sûr.",
        "On nous demande de participer aux réunions de concertation, mais les décisions sont déjà "
        "prises.",
        "{institution_cap} aimerait bien qu’on fasse le boulot à sa place, en fait.",
        "Le conseil de quartier, j’y suis allé{e} deux fois, et j’ai arrêté.",
    ),
    "liens": (
        "Maintenant quand je descends, je mets vingt minutes à traverser la cour, parce que je "
        "m’arrête parler à tout le monde.",
        "J’ai des numéros de voisins dans mon téléphone, avant j’en avais aucun.",
        "Avec {personne}, on se connaissait pas avant, maintenant c’est comme de la famille.",
        "Les gens se rendent des services, garder les enfants, arroser les plantes, prêter une "
        "perceuse.",
        "Ça a créé de la confiance, et la confiance, ça se décrète pas.",
        "Il y a des gens qu’on voit jamais, qui restent chez eux, et ça c’est notre échec, un peu.",
        "Entre les anciens et les nouveaux, il y a encore une frontière.",
        "Le jour où il y a eu {probleme}, tout le monde s’est mobilisé en une heure.",
        "Je me sens moins seul{e}, c’est tout bête, mais c’est ça.",
        "Les enfants, ils ont fait le lien entre les familles, c’est eux qui ont commencé.",
        "Quand {voisin} a été malade, on s’est relayés pour l’accompagner à l’hôpital.",
        "On n’est pas tous amis, faut pas rêver, mais on se connaît.",
        "Le lien, ça tient à des petites choses, un café, un bonjour, un coup de main.",
        "Il y a des familles qui se parlaient pas depuis des années et qui se sont réconciliées "
        "autour de {activite}.",
    ),
    "conflits": (
        "Il y a eu un conflit avec {voisin} pour une histoire de {objet_conflit}.",
        "Certains trouvent qu’on prend trop de place, qu’on fait trop de bruit.",
        "On nous a accusés de faire de la politique, alors qu’on en fait pas du tout.",
        "Il y a eu une période où plus personne se parlait au bureau.",
        "Les jeunes du quartier, au début, ils nous regardaient de travers, et puis ça s’est "
        "arrangé.",
        "Un jour quelqu’un a arraché toutes les affiches, on n’a jamais su qui.",
        "On a dû faire une médiation, avec quelqu’un du centre social.",
        "Les réseaux sociaux, ça a pas aidé, les messages à minuit, les engueulades sur le groupe.",
        "Les gens se plaignent, mais quand on leur demande de venir, ils viennent pas.",
        "Ce qui est dur, c’est de rester neutre quand il y a des histoires entre voisins.",
    ),
    "avenir": (
        "L’avenir, je sais pas, ça dépend de la relève.",
        "On aimerait ouvrir {activite} à tout le quartier, pas seulement à la résidence.",
        "Si {personne} arrête, je suis pas sûr{e} que ça tienne.",
        "Il faudrait des jeunes dans le bureau, c’est ça le vrai enjeu.",
        "On a un projet avec {institution} pour {projet}.",
        "Je pense qu’on a prouvé quelque chose, que les habitants peuvent s’organiser tout seuls.",
        "Mon rêve, ce serait un vrai local, avec une cuisine.",
        "Si on devait recommencer, je ferais pareil, mais je demanderais de l’aide plus tôt.",
        "Il y a une fatigue, c’est clair, après les années Covid.",
        "On va continuer, de toute façon, on sait pas faire autrement.",
        "Ce qu’il faudrait, c’est que la mairie reconnaisse vraiment ce qu’on fait.",
    ),
    "vue_institution": (
        "De notre côté, on essaie de soutenir ce genre d’initiatives, mais avec des moyens "
        "limités.",
        "{asso}, c’est un exemple qu’on cite souvent, dans les réunions.",
        "Le risque, c’est l’essoufflement des bénévoles, on le voit partout.",
        "On finance, mais on ne pilote pas, c’est important pour nous.",
        "Les habitants connaissent leur quartier mieux que nous, c’est évident.",
        "Notre rôle, c’est de faire le lien entre les habitants et les services.",
        "Il y a des règles, des procédures, et parfois les habitants les vivent comme des "
        "obstacles.",
        "On a vu arriver pendant le confinement des initiatives qu’on ne connaissait pas du tout.",
        "La difficulté, c’est la pérennité, une fois que la subvention s’arrête.",
        "On ne peut pas tout accepter non plus, il y a des questions de sécurité, d’assurance.",
        "Je suis en poste depuis {recent}, et j’ai repris un dossier déjà bien avancé.",
        "Sur le {arr}, on accompagne une quarantaine d’associations de ce type.",
    ),
}

FILLERS: tuple[str, ...] = (
    "Voilà.", "Je sais pas si je réponds à votre question.", "C’est compliqué, en fait.",
    "Enfin, c’est mon avis.", "Mais bon, c’est comme ça.", "Comment dire.",
    "Je vous dis ça, mais d’autres vous diraient le contraire.", "Ça, c’est important.",
    "Je m’en souviens très bien.", "C’était pas simple.", "Honnêtement, on a appris en faisant.",
    "Bref.", "Je m’égare, pardon.", "Vous voyez ce que je veux dire ?",
)

QUESTIONS: dict[str, tuple[str, ...]] = {
    "parcours": (
        "Pour commencer, est-ce que vous pouvez vous présenter un peu ?",
        "Vous habitez ici depuis combien de temps ?",
        "Qu’est-ce que vous faisiez, avant d’arriver dans le quartier ?",
    ),
    "debuts": (
        "Est-ce que vous pouvez me raconter comment {asso} a démarré ?",
        "Et vous, comment vous êtes arrivé{e_p} dans l’association ?",
        "Qui étaient les premières personnes impliquées ?",
    ),
    "confinement": (
        "Et pendant le confinement, qu’est-ce qui s’est passé ?",
        "Comment vous vous êtes organisés pendant le premier confinement ?",
        "Qu’est-ce qui est resté de cette période, selon vous ?",
    ),
    "cour": (
        "Est-ce que la cour a changé, depuis ?",
        "Comment vous utilisez {lieu}, concrètement ?",
        "Et les espaces communs, ça se passe comment ?",
    ),
    "gouvernance": (
        "Comment se prennent les décisions dans l’association ?",
        "Qui fait quoi, dans le bureau ?",
        "Est-ce qu’il y a des assemblées générales, des réunions régulières ?",
    ),
    "subventions": (
        "Et la question de l’argent, des subventions, comment ça se passe ?",
        "Vous avez reçu des financements ?",
        "Qu’est-ce que ça a changé, d’avoir une subvention ?",
    ),
    "institutions": (
        "Quelles relations vous avez avec {bailleur} ?",
        "Et la mairie, elle a joué quel rôle ?",
        "Vous vous sentez soutenus par les institutions ?",
    ),
    "liens": (
        "Qu’est-ce que ça a changé dans vos relations avec les voisins ?",
        "Est-ce que vous diriez que les gens se connaissent mieux qu’avant ?",
        "Vous avez un exemple de quelqu’un que vous avez rencontré grâce à l’association ?",
    ),
    "conflits": (
        "Est-ce qu’il y a eu des tensions, des conflits ?",
        "Tout le monde voit l’association d’un bon œil ?",
    ),
    "avenir": (
        "Et pour la suite, comment vous voyez l’avenir ?",
        "Si c’était à refaire, vous feriez quoi différemment ?",
    ),
    "vue_institution": (
        "Comment vous avez connu {asso} ?",
        "Quel est votre rôle vis-à-vis des associations du quartier ?",
        "Qu’est-ce qui fait, selon vous, qu’une initiative comme celle-là tient dans le temps ?",
    ),
}
RELANCES: tuple[str, ...] = (
    "C’est-à-dire ?", "Vous pouvez m’en dire plus ?", "Par exemple ?",
    "Et ça, ça s’est passé quand ?", "Et vous, vous en pensez quoi ?", "Pourquoi ?",
    "Comment ça ?", "Et les autres membres, ils en pensent quoi ?", "Vraiment ?",
    "Et ça a marché ?", "Qu’est-ce qui vous a décidé{e_p} ?",
)
BACKCHANNELS: tuple[str, ...] = (
    "D’accord.", "Mmh.", "Oui.", "Ah oui.", "Je vois.", "Ah d’accord.", "Hm hm.",
    "D’accord, oui.", "Ah, intéressant.", "Oui, oui.",
)
OPENINGS: tuple[str, ...] = (
    "Voilà, ça enregistre. Merci d’avoir accepté cet entretien.",
    "Bon, c’est parti. Merci de me recevoir.",
    "Alors, ça tourne. Merci beaucoup pour votre temps.",
    "Voilà, c’est bon, j’ai lancé l’enregistrement. Merci d’être là.",
)
CLOSING_Q: tuple[str, ...] = (
    "Est-ce qu’il y a quelque chose que vous voudriez ajouter ?",
    "On arrive à la fin. Vous voulez ajouter quelque chose ?",
)
CLOSING_A: tuple[str, ...] = (
    "Non, je crois que j’ai tout dit. [rires]",
    "Non, c’est bien, ça m’a fait plaisir d’en parler.",
    "Juste que les gens viennent, qu’ils hésitent pas. Voilà.",
)
THANKS: tuple[str, ...] = ("Merci beaucoup.", "Merci, c’était très riche.", "Merci à vous.")
COMPANION_STARTS: tuple[str, ...] = (
    "Oui, et puis", "Moi je dirais que", "Non mais attends,", "C’est vrai, et", "Et surtout,",
    "Ah ça oui,",
)
REPLIES: tuple[str, ...] = (
    "Oui, c’est vrai.", "Voilà.", "Non mais ça c’est vrai.", "Oui, oui.", "Exactement.",
    "Bon, si tu veux.",
)
CONNECTORS: tuple[str, ...] = (
    "Alors,", "Bon,", "Ben", "Bah", "En fait,", "Et puis", "Du coup,", "Après,", "Mais", "Enfin,",
    "Et", "Donc", "Voilà, et", "Franchement,", "Alors", "Et en fait",
)
TAILS: tuple[str, ...] = (", hein.", ", quoi.", ", vous voyez.", ", voilà.", ", en fait.",
                          ", je pense.")
EVENTS: tuple[str, ...] = ("[rires]", "[rires]", "[rires]", "[silence]", "[inaudible]", "[pause]")
EVENT_RE = re.compile(r"\[(rires|silence|inaudible|pause)\]")
WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")  # as qcode counts words
_SLOT_RE = re.compile(r"\{(\w+)\}")
# French contractions after a slot is filled: "autour de les repas" → "autour des repas"
_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b([dD])e les\b"), r"\1es"),
    (re.compile(r"\b([dD])e le\b"), r"\1u"),
    (re.compile(r"\b([àÀ]) les\b"), "aux"),
    (re.compile(r"\b([àÀ]) le\b"), "au"),
)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?…])\s+")


# --------------------------------------------------------------------------------------------
# The interview: who speaks, what they say, when


@dataclass(slots=True)
class Person:
    name: str  # as written in the transcript: "Karim", "Mme Ferrand", "Claire Morel"
    gender: str  # "f" or "m"
    age: int


@dataclass(slots=True)
class Turn:
    speaker: int  # 0 interviewer, 1 participant, 2 companion
    paragraphs: list[str]
    times: list[tuple[int, int]] = field(default_factory=list)  # ms, one pair per paragraph

    @property
    def start_ms(self) -> int:
        return self.times[0][0]

    @property
    def end_ms(self) -> int:
        return self.times[-1][1]

    @property
    def text(self) -> str:
        return " ".join(self.paragraphs)


@dataclass(slots=True)
class Interview:
    id: str
    fmt: str
    initiative: Initiative
    role: str
    role_description: str
    date: dt.date
    lieu: str
    interviewer: Person
    participant: Person
    companion: Person | None
    turns: list[Turn] = field(default_factory=list)

    @property
    def speakers(self) -> list[Person]:
        people = [self.interviewer, self.participant]
        return [*people, self.companion] if self.companion else people

    @property
    def duration_ms(self) -> int:
        return self.turns[-1].end_ms if self.turns else 0

    @property
    def words(self) -> int:
        return sum(count_words(p) for t in self.turns for p in t.paragraphs)

    @property
    def age_band(self) -> str:
        low = min(max(self.participant.age // 10 * 10, 20), 70)
        return f"{low}-{low + 9}"

    def attributes(self) -> dict[str, str]:
        return {
            "id": self.id,
            "participant": self.participant.name,
            "initiative": self.initiative.slug,
            "role": self.role,
            "arrondissement": str(self.initiative.arrondissement),
            "gender": "femme" if self.participant.gender == "f" else "homme",
            "age_band": self.age_band,
            "date": self.date.isoformat(),
            "interviewer": self.interviewer.name,
        }


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    id: str
    path: Path
    format: str
    words: int  # words of speech as the generator counts them (qcode's word pattern)
    turns: int
    speakers: int


def count_words(text: str) -> int:
    return len(WORD_RE.findall(text))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class _Deck:
    """Draw from each template list without repetition until it is exhausted, then reshuffle."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._piles: dict[str, list[str]] = {}

    def draw(self, key: str, items: Sequence[str]) -> str:
        pile = self._piles.get(key)
        if not pile:
            pile = list(items)
            self._rng.shuffle(pile)
            self._piles[key] = pile
        return pile.pop()


class _Talk:
    """Sentences for one interview: templates filled from the vocabulary, with hesitations."""

    def __init__(self, rng: random.Random, iv: Interview) -> None:
        self.rng = rng
        self.deck = _Deck(rng)
        arr = f"{iv.initiative.arrondissement}e"
        self.context = {
            "asso": iv.initiative.name,
            "bailleur": iv.initiative.bailleur,
            "site": iv.initiative.site,
            "local": iv.initiative.local,
            "arr": arr,
            "e_p": "e" if iv.participant.gender == "f" else "",
        }
        # how much this interviewee hesitates, laughs, trails off
        self.hesitancy = rng.uniform(0.05, 0.35)
        self.laughter = rng.uniform(0.02, 0.12)

    def fill(self, template: str, gender: str) -> str:
        def slot(m: re.Match[str]) -> str:
            name = m.group(1)
            if name == "e":
                return "e" if gender == "f" else ""
            cap = name.endswith("_cap")
            base = name.removesuffix("_cap")
            value = self.context[base] if base in self.context else self.rng.choice(SLOTS[base])
            return _cap(value) if cap else value

        text = _SLOT_RE.sub(slot, template)
        for pattern, replacement in _CONTRACTIONS:
            text = pattern.sub(replacement, text)
        return text

    def sentence(self, topic: str, gender: str, filler: bool = True) -> str:
        rng = self.rng
        if filler and rng.random() < 0.08:
            return self.rng.choice(FILLERS)
        template = self.deck.draw(topic, ANSWERS[topic])
        text = _cap(self.fill(template, gender))
        # a connector before the sentence, unless it starts with a name
        connect = not template.startswith("{") and rng.random() < 0.3
        return self.decorate(text, connect)

    def decorate(self, text: str, connect: bool = False) -> str:
        """Connectors, *euh*, repetitions, trailing off, tags and laughter."""
        rng = self.rng
        if connect:
            text = f"{rng.choice(CONNECTORS)} {text[:1].lower()}{text[1:]}"
        words = text.split(" ")
        if len(words) > 5 and rng.random() < self.hesitancy:
            at = rng.randrange(1, len(words) - 2)
            words.insert(at, rng.choice(("euh", "euh…", "euh,", "euh", "enfin,", "ben")))
        if len(words) > 6 and rng.random() < self.hesitancy / 3:
            at = rng.randrange(1, len(words) - 3)
            if len(words[at]) <= 3 and words[at].isalpha():
                words.insert(at, words[at] + ",")
        text = " ".join(words)
        if text.endswith(".") and rng.random() < self.hesitancy / 2:
            text = text[:-1] + "…"
        elif text.endswith(".") and rng.random() < 0.12:
            text = text[:-1] + rng.choice(TAILS)
        if rng.random() < self.laughter:
            text += " " + rng.choice(EVENTS)
        return text

    def answer(self, topic: str, gender: str, sentences: int) -> list[str]:
        """A participant's answer: ``sentences`` sentences in one to three paragraphs."""
        said = [self.sentence(topic, gender, filler=n > 0) for n in range(sentences)]
        if sentences >= 5 and self.rng.random() < 0.5:
            cuts = sorted(self.rng.sample(range(2, sentences - 1), k=1 if sentences < 8 else 2))
            bounds = [0, *cuts, sentences]
            return [" ".join(said[a:b]) for a, b in itertools.pairwise(bounds)]
        return [" ".join(said)]

    def question(self, topic: str) -> str:
        return self.fill(self.deck.draw("q-" + topic, QUESTIONS[topic]), "f")

    def relance(self) -> str:
        return self.fill(self.deck.draw("relance", RELANCES), "f")


def _topics(rng: random.Random, institutional: bool) -> list[str]:
    middle = ["confinement", "cour", "gouvernance", "subventions", "institutions", "liens",
              "conflits"]
    rng.shuffle(middle)
    first = ["vue_institution"] if institutional else ["parcours", "debuts"]
    return [*first, *middle, "avenir"]


# what the interviewer calls each topic when coming back to it
TOPIC_NAMES: dict[str, str] = {
    "confinement": "le confinement", "cour": "la cour et les espaces communs",
    "gouvernance": "la façon dont vous prenez les décisions",
    "subventions": "la question des subventions", "institutions": "vos relations avec la mairie",
    "liens": "les liens entre voisins", "conflits": "les tensions dont vous parliez",
}
RETURNS: tuple[str, ...] = (
    "Je voudrais revenir sur {topic}. Vous pouvez préciser ?",
    "Tout à l’heure vous avez parlé de {topic}. Qu’est-ce que vous vouliez dire ?",
    "Revenons à {topic}, si vous voulez bien. Comment ça se passe aujourd’hui ?",
)


def _compose(iv: Interview, rng: random.Random, target_words: int) -> None:
    """Fill ``iv.turns`` with about ``target_words`` words of talk, timed."""
    talk = _Talk(rng, iv)
    pgender = iv.participant.gender
    institutional = iv.role in INSTITUTIONAL
    turns: list[Turn] = []
    words = 0
    budget = target_words - 40  # words kept for the end of the interview

    def say(speaker: int, paragraphs: list[str]) -> None:
        nonlocal words
        turns.append(Turn(speaker, paragraphs))
        words += sum(count_words(p) for p in paragraphs)

    def answer(topic: str, low: int, high: int) -> None:
        room = max(1, (budget - words) // 16)
        say(1, talk.answer(topic, pgender, min(rng.randint(low, high), room)))

    topics = _topics(rng, institutional)
    companion_turns = 0
    round_ = 0
    while words < budget:
        for n, topic in enumerate(topics):
            if words >= budget:
                break
            if round_ == 0 and n == 0:
                say(0, [f"{rng.choice(OPENINGS)} {talk.question(topic)}"])
            elif round_ == 0:
                say(0, [talk.question(topic)])
            else:
                say(0, [rng.choice(RETURNS).format(topic=TOPIC_NAMES[topic])])
            subject = topic
            if institutional and topic not in {"vue_institution", "institutions",
                                               "subventions", "confinement", "avenir"}:
                subject = rng.choice(("vue_institution", topic))
            answer(subject, 3, 10)
            # the companion joins in: at least twice, so that the label recurs
            if iv.companion is not None and (companion_turns < 2 or rng.random() < 0.3):
                start = rng.choice(COMPANION_STARTS)
                body = talk.sentence(subject, iv.companion.gender)
                extra = [talk.sentence(subject, iv.companion.gender)
                         for _ in range(rng.randint(0, 2))]
                say(2, [" ".join([f"{start} {body[:1].lower()}{body[1:]}", *extra])])
                reply = rng.choice(REPLIES)
                if rng.random() < 0.5:
                    reply += " " + talk.sentence(subject, pgender)
                say(1, [reply])
                companion_turns += 1
            # follow-ups: questions that dig, or a backchannel and the talk goes on
            while words < budget and rng.random() < 0.55:
                say(0, [talk.relance() if rng.random() < 0.5 else rng.choice(BACKCHANNELS)])
                answer(subject, 1, 6)
        # a second round on the middle topics, if the interview is long
        topics = [t for t in topics if t in TOPIC_NAMES]
        rng.shuffle(topics)
        round_ += 1
    say(0, [rng.choice(CLOSING_Q)])
    say(1, [rng.choice(CLOSING_A)])
    say(0, [rng.choice(THANKS)])
    _time(turns, rng)
    iv.turns = turns


def _time(turns: list[Turn], rng: random.Random) -> None:
    """Give each paragraph a start and an end: about 2–3 words a second, with pauses."""
    rates = [rng.uniform(2.3, 3.0), rng.uniform(2.0, 3.1), rng.uniform(2.0, 3.0)]
    clock = rng.randint(0, 4000)
    for turn in turns:
        clock += rng.randint(200, 1800)
        turn.times = []
        for paragraph in turn.paragraphs:
            length = int(1000 * max(1, count_words(paragraph)) / rates[turn.speaker])
            length += 400 * len(EVENT_RE.findall(paragraph))
            turn.times.append((clock, clock + length))
            clock += length + rng.randint(300, 1500)


# --------------------------------------------------------------------------------------------
# Header fields


def _french_date(day: dt.date) -> str:
    return f"{day.day}{'er' if day.day == 1 else ''} {MONTHS[day.month - 1]} {day.year}"


def _duration(ms: int) -> str:
    minutes = max(1, round(ms / 60_000))
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d}"


def _hms(ms: int) -> str:
    s = ms // 1000
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _initials(name: str, dots: bool) -> str:
    parts = [p for p in name.replace("-", " ").split() if p[:1].isalpha()]
    letters = [p[0].upper() for p in parts]
    return ". ".join(letters) + "." if dots else "".join(letters)


def _enqueteur_key(person: Person) -> str:
    return "Enquêtrice" if person.gender == "f" else "Enquêteur"


def _header_lines(iv: Interview, rng: random.Random) -> tuple[str, list[tuple[str, str]]]:
    """The title and the ``Key : value`` lines of a transcript header."""
    title = (f"Entretien {iv.id} — {iv.initiative.name} "
             f"(Paris {iv.initiative.arrondissement}e)")
    who_key = rng.choice(("Personne interviewée", "Interviewé" + ("e" if
                          iv.participant.gender == "f" else ""), "Participant" + (
                          "e" if iv.participant.gender == "f" else "")))
    who = f"{iv.participant.name} (pseudonyme), {iv.role_description}"
    if iv.companion is not None:
        who += f" ; avec {iv.companion.name} (pseudonyme)"
    lines = [
        ("Date", _french_date(iv.date)),
        ("Lieu", iv.lieu),
        (_enqueteur_key(iv.interviewer), iv.interviewer.name),
        (who_key, who),
        ("Durée", _duration(iv.duration_ms)),
        ("Transcription", _initials(iv.interviewer.name, dots=True)),
    ]
    if rng.random() < 0.3:
        lines.insert(2, ("Heure", f"{rng.randint(9, 19)} h {rng.choice(('00', '15', '30'))}"))
    return title, lines


# --------------------------------------------------------------------------------------------
# Speaker labels and text conventions for the labelled formats (txt, md, docx, odt, csv)

_INTERVIEWER_LABELS = frozenset({"e", "enq", "enqueteur", "enquetrice", "interviewer", "q", "i"})


@dataclass(slots=True)
class _Style:
    labels: list[str]
    sep: str  # before the colon: " ", U+00A0, U+202F or ""
    event: str  # "[]" or "()": how [rires] is written
    apostrophe: str  # "’" or "'"
    question_space: str  # before ? and !: " ", U+00A0, U+202F


def _fold(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip(" .")


def _labels(iv: Interview, rng: random.Random, allow_f4: bool = False) -> tuple[str, list[str]]:
    """A labelling convention and the label of each speaker."""
    three = iv.companion is not None
    styles = {"role": 30, "names": 20, "initials": 15, "ip": 10}
    if not three:
        styles["qr"] = 10
    if allow_f4:
        styles["f4"] = 6
    style = rng.choices(list(styles), weights=list(styles.values()))[0]
    interviewer, participant = iv.interviewer, iv.participant
    companion_label = ""
    if iv.companion is not None:
        companion_label = iv.companion.name
        if rng.random() < 0.4:
            companion_label += f" ({iv.companion.age} ans)"
    if style == "role":
        first = rng.choice(("E", _enqueteur_key(interviewer), "Enq.", "Interviewer", "E"))
        return style, [first, participant.name, companion_label][: len(iv.speakers)]
    if style == "names":
        first = rng.choice((interviewer.name, interviewer.name.split()[0]))
        return style, [first, participant.name, companion_label][: len(iv.speakers)]
    if style == "qr":
        return style, ["Q", "R"]
    if style in {"ip", "f4"}:
        if three or rng.random() < 0.5:
            return style, ["I", "P1", "P2"][: len(iv.speakers)]
        return style, ["I", "P"]
    # initials
    dots = rng.random() < 0.4
    labels = [_initials(interviewer.name, dots)]
    taken = {_fold(labels[0])} | _INTERVIEWER_LABELS
    for person in iv.speakers[1:]:
        if person.name.startswith(("M. ", "Mme ")):
            title, _, surname = person.name.partition(" ")
            label = f"{title} {surname[0]}."
        else:
            label = person.name[0].upper()
        if _fold(label) in taken or _fold(label) in _name_forms(interviewer.name):
            label = person.name
        taken.add(_fold(label))
        labels.append(label)
    return style, labels


def _name_forms(name: str) -> set[str]:
    parts = _fold(name).replace("-", " ").split()
    initials = [p[0] for p in parts]
    return {" ".join(parts), *parts, "".join(initials), ". ".join(initials), ".".join(initials)}


def _text_style(rng: random.Random, labels: list[str], sep_choices: Sequence[str]) -> _Style:
    sep = rng.choices(list(sep_choices), weights=[70, 18, 12][: len(sep_choices)])[0]
    return _Style(
        labels=labels,
        sep=sep,
        event="[]" if rng.random() < 0.8 else "()",
        apostrophe="’" if rng.random() < 0.6 else "'",
        question_space=rng.choices((" ", "\u00a0", "\u202f"), weights=(80, 12, 8))[0],
    )


def _speech(text: str, style: _Style) -> str:
    if style.event == "()":
        text = EVENT_RE.sub(r"(\1)", text)
    if style.apostrophe != "’":
        text = text.replace("’", style.apostrophe)
    if style.question_space != " ":
        text = text.replace(" ?", style.question_space + "?").replace(" !",
                                                                      style.question_space + "!")
    return text


def _asr(text: str) -> str:
    """Speech-recognition output has no [rires] or anonymisation brackets."""
    text = EVENT_RE.sub("", text)
    text = text.replace("[", "").replace("]", "")
    return re.sub(r" {2,}", " ", text).replace(" .", ".").strip()


# --------------------------------------------------------------------------------------------
# Renderers: Interview → bytes


def _render_txt(iv: Interview, rng: random.Random) -> bytes:
    style_name, labels = _labels(iv, rng, allow_f4=True)
    seps = ("",) if style_name in {"ip", "f4"} else (" ", "\u00a0", "\u202f")
    style = _text_style(rng, labels, seps)
    encoding = rng.choices(("utf-8", "utf-8-sig", "cp1252", "utf-16"), weights=(80, 7, 8, 5))[0]
    if encoding == "cp1252":
        style.sep = style.sep.replace("\u202f", "\u00a0")
        style.question_space = style.question_space.replace("\u202f", "\u00a0")
    ts_style = "f4" if style_name == "f4" else rng.choices(
        ("none", "before", "after", "short"), weights=(45, 25, 18, 12))[0]
    if ts_style == "short" and iv.duration_ms >= 3_600_000:
        ts_style = "before"
    blank = rng.random() < 0.7

    title, header = _header_lines(iv, rng)
    out = [title, *(f"{k} : {v}" for k, v in header), ""]
    for turn in iv.turns:
        label = f"{labels[turn.speaker]}{style.sep}:"
        paragraphs = [_speech(p, style) for p in turn.paragraphs]
        if style_name == "f4":
            ms = turn.end_ms
            stamp = f"#{_hms(ms)}-{ms % 1000 // 100}#"
            out.append(f"{label} {' '.join(paragraphs)} {stamp}")
        elif ts_style == "before":
            out.append(f"[{_hms(turn.start_ms)}] {label} {paragraphs[0]}")
        elif ts_style == "short":
            s = turn.start_ms // 1000
            out.append(f"[{s // 60:02d}:{s % 60:02d}] {label} {paragraphs[0]}")
        elif ts_style == "after":
            out.append(f"{label} ({_hms(turn.start_ms)}) {paragraphs[0]}")
        else:
            out.append(f"{label} {paragraphs[0]}")
        if style_name != "f4":
            for more in paragraphs[1:]:
                if blank:
                    out.append("")
                out.append(more)
        if blank:
            out.append("")
    text = "\n".join(out).rstrip("\n") + "\n"
    if encoding == "cp1252":
        text = text.replace("\n", "\r\n")
    return text.encode(encoding)


def _render_md(iv: Interview, rng: random.Random) -> bytes:
    _, labels = _labels(iv, rng)
    style = _text_style(rng, labels, (" ", "\u00a0", "\u202f"))
    title, header = _header_lines(iv, rng)
    out: list[str] = []
    if rng.random() < 0.55:
        out += ["---", f"title: {_yaml_str(title)}", f"date: {iv.date.isoformat()}"]
        for key, value in header:
            if key in {"Lieu", "Durée", "Transcription"}:
                out.append(f"{_fold(key).replace('é', 'e')}: {_yaml_str(value)}")
        out.append(f"enqueteur: {_yaml_str(iv.interviewer.name)}")
        out += ["---", ""]
    else:
        decorate = rng.choice(("plain", "bold", "list"))
        out.append(f"# {title}" if rng.random() < 0.6 else title)
        out.append("")
        for key, value in header:
            if decorate == "bold":
                out.append(f"**{key} :** {value}  ")
            elif decorate == "list":
                out.append(f"- {key} : {value}")
            else:
                out.append(f"{key} : {value}  ")
        out.append("")
    bold = rng.choice(("inside", "inside", "outside"))
    with_time = rng.random() < 0.3
    for turn in iv.turns:
        label = labels[turn.speaker]
        head = (f"**{label}{style.sep}:**" if bold == "inside"
                else f"**{label}**{style.sep}:")
        paragraphs = [_speech(p, style) for p in turn.paragraphs]
        stamp = f" ({_hms(turn.start_ms)})" if with_time else ""
        out.append(f"{head}{stamp} {paragraphs[0]}")
        for more in paragraphs[1:]:
            out += ["", more]
        out.append("")
    newline = "\r\n" if rng.random() < 0.1 else "\n"
    return ("\n".join(out).rstrip("\n") + "\n").replace("\n", newline).encode("utf-8")


def _yaml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a ZIP with fixed timestamps, so that generated files are reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2022, 1, 1, 0, 0, 0))
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def _word_paragraphs(iv: Interview, rng: random.Random, labelled: bool
                     ) -> tuple[str, list[tuple[str, str, bool]], _Style]:
    """(title, paragraphs as (bold label or "", text, whole paragraph bold), style)."""
    if labelled:
        _, labels = _labels(iv, rng)
    else:
        labels = ["", "", ""]
    style = _text_style(rng, labels, (" ", "\u00a0", "\u202f"))
    title, header = _header_lines(iv, rng)
    paragraphs: list[tuple[str, str, bool]] = [("", f"{k} : {v}", False) for k, v in header]
    paragraphs.append(("", "", False))
    for turn in iv.turns:
        texts = [_speech(p, style) for p in turn.paragraphs]
        if labelled:
            paragraphs.append((f"{labels[turn.speaker]}{style.sep}:", texts[0], False))
            paragraphs += [("", more, False) for more in texts[1:]]
        else:
            paragraphs += [("", t, turn.speaker == 0) for t in texts]
    return title, paragraphs, style


def _render_docx(iv: Interview, rng: random.Random) -> bytes:
    import docx

    labelled = iv.companion is not None or rng.random() < 0.7
    title, paragraphs, _ = _word_paragraphs(iv, rng, labelled)
    document = docx.Document()
    props = document.core_properties
    props.author = iv.interviewer.name
    props.title = title
    fixed = dt.datetime(2022, 1, 1, 12, 0, 0)
    props.created = props.modified = fixed
    props.last_modified_by = iv.interviewer.name
    props.revision = 1
    if rng.random() < 0.5:
        document.add_heading(title, level=1)
    else:
        document.add_paragraph(title)
    for label, text, bold in paragraphs:
        paragraph = document.add_paragraph()
        if label:
            paragraph.add_run(label).bold = True
            paragraph.add_run(" " + text)
        elif text:
            run = paragraph.add_run(text)
            if bold:
                run.bold = True
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip(buffer.getvalue())


_ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"'
)
_ODT_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" \
manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:version="1.2" \
manifest:media-type="application/vnd.oasis.opendocument.text"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""


def _render_odt(iv: Interview, rng: random.Random) -> bytes:
    labelled = iv.companion is not None or rng.random() < 0.7
    title, paragraphs, _ = _word_paragraphs(iv, rng, labelled)
    body = [f'<text:h text:outline-level="1">{escape(title)}</text:h>' if rng.random() < 0.5
            else f"<text:p>{escape(title)}</text:p>"]
    for label, text, bold in paragraphs:
        if label:
            body.append(f'<text:p text:style-name="P1"><text:span text:style-name="T1">'
                        f"{escape(label)}</text:span> {escape(text)}</text:p>")
        elif not text:
            body.append('<text:p text:style-name="P1"/>')
        else:
            name = "P2" if bold else "P1"
            body.append(f'<text:p text:style-name="{name}">{escape(text)}</text:p>')
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<office:document-content {_ODF_NS} office:version="1.2">'
        "<office:automatic-styles>"
        '<style:style style:name="P1" style:family="paragraph"/>'
        '<style:style style:name="P2" style:family="paragraph">'
        '<style:text-properties fo:font-weight="bold"/></style:style>'
        '<style:style style:name="T1" style:family="text">'
        '<style:text-properties fo:font-weight="bold"/></style:style>'
        "</office:automatic-styles>"
        "<office:body><office:text>" + "\n".join(body) + "</office:text></office:body>"
        "</office:document-content>\n"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        stamp = (2022, 1, 1, 0, 0, 0)
        mimetype = zipfile.ZipInfo("mimetype", date_time=stamp)
        mimetype.compress_type = zipfile.ZIP_STORED
        archive.writestr(mimetype, "application/vnd.oasis.opendocument.text")
        for name, data in (("content.xml", content), ("META-INF/manifest.xml", _ODT_MANIFEST)):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data.encode("utf-8"))
    return out.getvalue()


def _cue_chunks(text: str, rng: random.Random, max_words: int = 16) -> list[str]:
    """Split speech into caption-sized pieces at sentence ends, else at commas, else anywhere."""
    pieces: list[str] = []
    for sentence in _SENTENCE_SPLIT_RE.split(text):
        words = sentence.split()
        while len(words) > max_words:
            cut = next((i + 1 for i in range(max_words - 1, 3, -1) if words[i].endswith(",")),
                       rng.randint(max_words - 4, max_words))
            pieces.append(" ".join(words[:cut]))
            words = words[cut:]
        if words:
            if pieces and len(words) < 4 and len(pieces[-1].split()) + len(words) <= max_words:
                pieces[-1] += " " + " ".join(words)
            else:
                pieces.append(" ".join(words))
    return pieces


@dataclass(slots=True)
class _Cue:
    speaker: int
    text: str
    start_ms: int
    end_ms: int


def _cues(iv: Interview, rng: random.Random, asr: bool) -> list[_Cue]:
    cues: list[_Cue] = []
    for turn in iv.turns:
        for paragraph, (start, end) in zip(turn.paragraphs, turn.times, strict=True):
            text = _asr(paragraph) if asr else paragraph
            pieces = _cue_chunks(text, rng)
            total = sum(count_words(p) or 1 for p in pieces)
            clock = start
            for piece in pieces:
                length = (end - start) * (count_words(piece) or 1) // total
                cue_end = max(clock + 300, clock + length - rng.randint(0, 250))
                cues.append(_Cue(turn.speaker, piece, clock, cue_end))
                clock += length
    return cues


def _vtt_time(ms: int, short: bool) -> str:
    s, frac = divmod(ms, 1000)
    if short and s < 3600:
        return f"{s // 60:02d}:{s % 60:02d}.{frac:03d}"
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}.{frac:03d}"


def _wrap(text: str, width: int = 42) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def _display_names(iv: Interview, rng: random.Random) -> list[str]:
    """Names as a video-call app shows them."""
    names = [iv.interviewer.name]
    for person in iv.speakers[1:]:
        if rng.random() < 0.2 and not person.name.startswith(("M. ", "Mme ")):
            names.append(f"{person.name} {rng.choice(SURNAMES)[0]}.")
        else:
            names.append(person.name)
    return names


def _guid(rng: random.Random) -> str:
    return "-".join(f"{rng.getrandbits(n * 4):0{n}x}" for n in (8, 4, 4, 4, 12))


def _render_vtt(iv: Interview, rng: random.Random) -> bytes:
    flavour = rng.choices(("zoom", "teams", "whisperx"), weights=(40, 35, 25))[0]
    cues = _cues(iv, rng, asr=True)
    names = _display_names(iv, rng)
    out = ["WEBVTT"]
    if flavour == "teams":
        out.append("")
        guid = _guid(rng)
        for n, cue in enumerate(cues):
            out += [f"{guid}/{n + 10}-{n % 3}",
                    f"{_vtt_time(cue.start_ms, False)} --> {_vtt_time(cue.end_ms, False)}",
                    f"<v {names[cue.speaker]}>{escape(cue.text)}</v>", ""]
    elif flavour == "zoom":
        out.append("")
        for n, cue in enumerate(cues, 1):
            out += [str(n), f"{_vtt_time(cue.start_ms, False)} --> {_vtt_time(cue.end_ms, False)}",
                    f"{names[cue.speaker]}: {escape(cue.text)}", ""]
    else:
        out += ["Kind: captions", "Language: fr", ""]
        if rng.random() < 0.5:
            out += [f"NOTE {iv.id} — transcription automatique (WhisperX), à relire", ""]
        for cue in cues:
            out += [f"{_vtt_time(cue.start_ms, True)} --> {_vtt_time(cue.end_ms, True)}",
                    f"[SPEAKER_{cue.speaker:02d}]: {escape(cue.text)}", ""]
    return ("\n".join(out).rstrip("\n") + "\n").encode("utf-8")


def _srt_time(ms: int) -> str:
    s, frac = divmod(ms, 1000)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d},{frac:03d}"


def _render_srt(iv: Interview, rng: random.Random) -> bytes:
    whisper = rng.random() < 0.45
    cues = _cues(iv, rng, asr=True)
    names = _display_names(iv, rng)
    out: list[str] = []
    for n, cue in enumerate(cues, 1):
        label = f"[SPEAKER_{cue.speaker:02d}]" if whisper else names[cue.speaker]
        lines = _wrap(f"{label}: {cue.text}")
        out += [str(n), f"{_srt_time(cue.start_ms)} --> {_srt_time(cue.end_ms)}", *lines, ""]
    newline = "\r\n" if rng.random() < 0.3 else "\n"
    return "\n".join(out).replace("\n", newline).encode("utf-8")


def _trs_text(text: str) -> str:
    """Text as a Transcriber user types it, XML-escaped, with events as <Event/>."""
    text = text.replace("’", "'").replace("…", "...").replace("\u202f", " ")
    pieces: list[str] = []
    pos = 0
    for m in EVENT_RE.finditer(text):
        before = text[pos : m.start()].strip()
        if before:
            pieces.append(escape(before))
        pieces.append(f'<Event desc="{m.group(1)}" type="noise" extent="instantaneous"/>')
        pos = m.end()
    rest = text[pos:].strip()
    if rest:
        pieces.append(escape(rest))
    return "\n".join(pieces)


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}".rstrip("0").rstrip(".")


def _render_trs(iv: Interview, rng: random.Random) -> bytes:
    speakers = iv.speakers
    out = [
        '<?xml version="1.0" encoding="ISO-8859-1"?>',
        '<!DOCTYPE Trans SYSTEM "trans-14.dtd">',
        f"<Trans scribe={quoteattr(iv.interviewer.name)} "
        f'audio_filename="{iv.id}_entretien" version="{rng.randint(1, 9)}" '
        f'version_date="{iv.date.strftime("%y%m%d")}" xml:lang="fre">',
        "<Topics>",
        '<Topic id="to1" desc="parcours et débuts"/>',
        '<Topic id="to2" desc="vie de l\'association"/>',
        '<Topic id="to3" desc="avenir"/>',
        "</Topics>",
        "<Speakers>",
    ]
    for n, person in enumerate(speakers, 1):
        kind = "female" if person.gender == "f" else "male"
        out.append(f'<Speaker id="spk{n}" name={quoteattr(person.name)} check="no" '
                   f'type="{kind}" dialect="native" accent="" scope="local"/>')
    out += ["</Speakers>", f'<Episode program="{escape(iv.initiative.name)}" '
            f'air_date="{iv.date.isoformat()}">']
    turns = iv.turns
    cut1, cut2 = max(2, len(turns) // 4), max(3, len(turns) * 3 // 4)
    sections = [(1, turns[:cut1]), (2, turns[cut1:cut2]), (3, turns[cut2:])]
    skip_next = False
    for topic, section in sections:
        if not section:
            continue
        out.append(f'<Section type="report" topic="to{topic}" '
                   f'startTime="{_seconds(section[0].start_ms)}" '
                   f'endTime="{_seconds(section[-1].end_ms)}">')
        for index, turn in enumerate(section):
            if skip_next:
                skip_next = False
                continue
            following = section[index + 1] if index + 1 < len(section) else None
            if (turn.speaker == 0 and len(turn.paragraphs[0].split()) <= 2
                    and following is not None and following.speaker == 1
                    and rng.random() < 0.5):
                # a backchannel over the start of the answer: overlapping speech
                out.append(f'<Turn speaker="spk1 spk2" startTime="{_seconds(turn.start_ms)}" '
                           f'endTime="{_seconds(following.end_ms)}">')
                out.append(f'<Sync time="{_seconds(turn.start_ms)}"/>')
                out.append(f'<Who nb="1"/>\n{_trs_text(turn.paragraphs[0])}')
                out.append(f'<Who nb="2"/>\n{_trs_text(" ".join(following.paragraphs))}')
                out.append("</Turn>")
                skip_next = True
                continue
            out.append(f'<Turn speaker="spk{turn.speaker + 1}" '
                       f'startTime="{_seconds(turn.start_ms)}" '
                       f'endTime="{_seconds(turn.end_ms)}">')
            for paragraph, (start, end) in zip(turn.paragraphs, turn.times, strict=True):
                sentences = _SENTENCE_SPLIT_RE.split(paragraph)
                step = max(1, len(sentences) // 3)
                total = max(1, len(sentences))
                for i in range(0, len(sentences), step):
                    at = start + (end - start) * i // total
                    out.append(f'<Sync time="{_seconds(at)}"/>')
                    out.append(_trs_text(" ".join(sentences[i : i + step])))
            out.append("</Turn>")
        out.append("</Section>")
    out += ["</Episode>", "</Trans>", ""]
    return "\n".join(out).encode("iso-8859-1", "xmlcharrefreplace")


def _otter_time(ms: int) -> str:
    s = ms // 1000
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def _render_otter(iv: Interview, rng: random.Random) -> bytes:
    if rng.random() < 0.25:
        names = [f"Speaker {n}" for n in range(1, len(iv.speakers) + 1)]
    else:
        names = _display_names(iv, rng)
    out: list[str] = []
    if rng.random() < 0.5:
        title, header = _header_lines(iv, rng)
        out += [title, *(f"{k} : {v}" for k, v in header[:3]), ""]
    for turn in iv.turns:
        for paragraph, (start, _) in zip(turn.paragraphs, turn.times, strict=True):
            out += [f"{names[turn.speaker]}  {_otter_time(start)}", _asr(paragraph), ""]
    out.append("Transcribed by https://otter.ai")
    return ("\n".join(out) + "\n").encode("utf-8")


def _render_csv(iv: Interview, rng: random.Random) -> bytes:
    _, labels = _labels(iv, rng)
    style = _text_style(rng, labels, (" ",))
    french = rng.random() < 0.35
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if french else ",", lineterminator="\r\n")
    title, header = _header_lines(iv, rng)
    if french:
        writer.writerow(["temps", "locuteur", "texte", "remarques"])
        note = " — ".join([title, *(f"{k} : {v}" for k, v in header)])
        writer.writerow(["", "", "", note])
    else:
        writer.writerow(["time", "speaker", "text"])
    sparse = rng.random() < 0.4
    for turn in iv.turns:
        for index, (paragraph, (start, _)) in enumerate(zip(turn.paragraphs, turn.times,
                                                            strict=True)):
            first = index == 0
            time = _hms(start) if first or not sparse else ""
            speaker = labels[turn.speaker] if first or not sparse else ""
            row = [time, speaker, _speech(paragraph, style)]
            if french:
                row.append("passage peu audible" if rng.random() < 0.02 else "")
            writer.writerow(row)
    encoding = "utf-8-sig" if french and rng.random() < 0.5 else "utf-8"
    return buffer.getvalue().encode(encoding)


RENDERERS = {
    "txt": _render_txt, "md": _render_md, "docx": _render_docx, "odt": _render_odt,
    "vtt": _render_vtt, "srt": _render_srt, "trs": _render_trs, "otter": _render_otter,
    "csv": _render_csv,
}


# --------------------------------------------------------------------------------------------
# The corpus


def _format_mix(count: int, rng: random.Random, formats: Sequence[str]) -> list[str]:
    """Exactly proportional to the weights (largest remainder), in a shuffled order."""
    weights = {f: FORMATS[f][1] for f in formats}
    total = sum(weights.values())
    quotas = {f: count * w / total for f, w in weights.items()}
    mix = {f: int(q) for f, q in quotas.items()}
    for f in sorted(quotas, key=lambda f: quotas[f] - mix[f], reverse=True)[: count -
                                                                          sum(mix.values())]:
        mix[f] += 1
    out = [f for f in formats for _ in range(mix[f])]
    rng.shuffle(out)
    return out


def _person(rng: random.Random, gender: str, formal: bool, age: int) -> Person:
    if formal and rng.random() < 0.8:
        name = f"{'Mme' if gender == 'f' else 'M.'} {rng.choice(SURNAMES)}"
    else:
        name = rng.choice(FIRST_NAMES_F if gender == "f" else FIRST_NAMES_M)
    return Person(name, gender, age)


def _lieu(iv_role: str, fmt: str, ini: Initiative, gender: str, rng: random.Random) -> str:
    if fmt in {"vtt", "srt"} or (fmt == "otter" and rng.random() < 0.5):
        return rng.choice(("visioconférence (Zoom)", "visioconférence (Teams)", "en visio"))
    arr = f"{ini.arrondissement}e"
    by_role = {
        "elu": f"mairie du {arr} arrondissement, bureau de l’élu" + ("e" if gender == "f"
                                                                      else ""),
        "agent-dev-local": f"locaux de l’équipe de développement local, {arr}",
        "bailleur": f"agence {ini.bailleur}, Paris {arr}",
        "gardien": f"loge, {ini.site}",
        "partenaire": f"centre social [nom], Paris {arr}",
    }
    if iv_role in by_role:
        return by_role[iv_role]
    interviewee = "de l’interviewée" if gender == "f" else "de l’interviewé"
    return rng.choice((f"{ini.local}, {ini.site}", f"domicile {interviewee}, {ini.site}",
                       f"café associatif, rue [nom de la rue], Paris {arr}",
                       f"{ini.site}, sur un banc", f"{ini.local}"))


def plan_interview(index: int, fmt: str, seed: int, count: int) -> tuple[Interview, int]:
    """The interview ``index`` of a corpus and its target word count (deterministic)."""
    rng = random.Random(f"qcode-bench/{seed}/{index}")
    ini = INITIATIVES[index % len(INITIATIVES)]
    number = index // len(INITIATIVES) + 1
    width = max(3, len(str(count // len(INITIATIVES) + 1)))
    tid = f"{ini.prefix}{number:0{width}d}"
    k = index % len(INITIATIVES)
    pair = (INTERVIEWERS[k % len(INTERVIEWERS)], INTERVIEWERS[(k + 3) % len(INTERVIEWERS)])
    iname, igender = rng.choice(pair)
    interviewer = Person(iname, igender, rng.randint(26, 45))
    roles = list(ROLES)
    role = rng.choices(roles, weights=[ROLES[r].weight for r in roles])[0]
    gender = rng.choice(("f", "f", "m"))  # the bundled study interviews more women
    age = rng.randint(20, 79) if role in {"membre", "porteur"} else rng.randint(28, 64)
    participant = _person(rng, gender, ROLES[role].formal, age)
    while participant.name.split()[-1] in {n.split()[0] for n, _ in INTERVIEWERS}:
        participant = _person(rng, gender, ROLES[role].formal, age)
    companion: Person | None = None
    if role in {"porteur", "membre", "gardien"} and rng.random() < 0.2:
        cgender = rng.choice(("f", "m"))
        companion = _person(rng, cgender, False, rng.randint(18, 85))
        while companion.name == participant.name or companion.name[0] == participant.name[0]:
            companion = _person(rng, cgender, False, rng.randint(18, 85))
    description = (ROLES[role].woman if gender == "f" else ROLES[role].man).format(
        arr=f"{ini.arrondissement}e", bailleur=ini.bailleur, site=ini.site)
    start = dt.date(2021, 1, 4)
    date = start + dt.timedelta(days=rng.randint(0, 700))
    while date.weekday() >= 5:
        date += dt.timedelta(days=1)
    iv = Interview(
        id=tid, fmt=fmt, initiative=ini, role=role, role_description=description, date=date,
        lieu=_lieu(role, fmt, ini, gender, rng), interviewer=interviewer,
        participant=participant, companion=companion,
    )
    return iv, rng.randint(840, 2420)


def build_interview(index: int, fmt: str, seed: int = 1, count: int = 400
                    ) -> tuple[Interview, bytes]:
    """Plan, write and render one interview: (interview, file bytes)."""
    iv, target = plan_interview(index, fmt, seed, count)
    rng = random.Random(f"qcode-bench/{seed}/{index}/talk")
    _compose(iv, rng, target)
    render_rng = random.Random(f"qcode-bench/{seed}/{index}/render")
    return iv, RENDERERS[fmt](iv, render_rng)


def generate_corpus(
    out_dir: str | Path,
    count: int = 400,
    seed: int = 1,
    formats: Sequence[str] | None = None,
    attributes: bool = True,
) -> list[GeneratedFile]:
    """Write ``count`` transcripts (and ``attributes.csv``) into ``out_dir``; return them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chosen = list(formats) if formats else list(FORMATS)
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s): {', '.join(unknown)} (known: {', '.join(FORMATS)})")
    mix = _format_mix(count, random.Random(f"qcode-bench/{seed}/mix"), chosen)
    files: list[GeneratedFile] = []
    rows: list[dict[str, str]] = []
    for index, fmt in enumerate(mix):
        iv, data = build_interview(index, fmt, seed, count)
        path = out / f"{iv.id}{FORMATS[fmt][0]}"
        path.write_bytes(data)
        files.append(GeneratedFile(iv.id, path, fmt, iv.words, len(iv.turns), len(iv.speakers)))
        rows.append(iv.attributes())
    if attributes:
        with (out / "attributes.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=ATTRIBUTE_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(sorted(rows, key=lambda r: r["id"]))
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.generate",
        description="Generate realistic French interview transcripts for qcode scale tests.",
    )
    parser.add_argument("out_dir", type=Path, help="folder to write the transcripts into")
    parser.add_argument("--count", type=int, default=400, help="number of transcripts")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same files)")
    parser.add_argument("--formats", default="",
                        help=f"comma-separated subset of: {', '.join(FORMATS)} (default: all)")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()] or None
    try:
        files = generate_corpus(args.out_dir, args.count, args.seed, formats)
    except ValueError as exc:
        parser.error(str(exc))
    by_format = Counter(f.format for f in files)
    words = sum(f.words for f in files)
    mix = ", ".join(f"{n} {fmt}" for fmt, n in sorted(by_format.items()))
    print(f"wrote {len(files)} transcripts ({words:,} words; {mix}) and attributes.csv "
          f"to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
