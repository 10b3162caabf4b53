"""Name lists for the simulated district: common enough to look real, obviously fake on an ``example.edu`` domain.

Kept apart from the generator so the lists can grow without touching the logic that draws from them.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Aaliyah", "Abel", "Adrian", "Aiden", "Alejandro", "Alexa", "Alma", "Amaya", "Ana", "Andres",
    "Angel", "Anthony", "Ariana", "Ashley", "Ava", "Bao", "Benjamin", "Bianca", "Brandon", "Brianna",
    "Camila", "Carlos", "Carmen", "Chloe", "Christopher", "Cristian", "Daisy", "Damian", "Daniel", "David",
    "Destiny", "Diego", "Dylan", "Elena", "Eli", "Elijah", "Emily", "Emmanuel", "Eric", "Esmeralda",
    "Ethan", "Evelyn", "Fatima", "Gabriel", "Gisselle", "Hannah", "Hector", "Isaac", "Isabella", "Ivan",
    "Jacob", "Jada", "Jasmine", "Jayden", "Jennifer", "Jesus", "Jocelyn", "Jonathan", "Jose", "Joshua",
    "Juan", "Julian", "Kayla", "Kevin", "Kimberly", "Leah", "Leilani", "Leo", "Liam", "Lily",
    "Luis", "Lucia", "Maya", "Mai", "Marco", "Maria", "Mateo", "Melanie", "Mia", "Miguel",
    "Naomi", "Natalie", "Nathan", "Nia", "Noah", "Olivia", "Omar", "Pa Nhia", "Paola", "Rafael",
    "Ricardo", "Samantha", "Samuel", "Sebastian", "Sofia", "Tou", "Valeria", "Victor", "Xavier", "Yesenia",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Aguilar", "Alvarez", "Anderson", "Avila", "Banuelos", "Brown", "Cabrera", "Castillo", "Castro", "Chavez",
    "Cha", "Contreras", "Cruz", "Davis", "Delgado", "Diaz", "Dominguez", "Espinoza", "Estrada", "Flores",
    "Garcia", "Gomez", "Gonzalez", "Guerrero", "Gutierrez", "Hang", "Her", "Hernandez", "Herrera", "Jackson",
    "Jimenez", "Johnson", "Khang", "Kim", "Lee", "Lopez", "Lor", "Lozano", "Martinez", "Medina",
    "Mendoza", "Miller", "Morales", "Moreno", "Moua", "Munoz", "Nguyen", "Ortiz", "Pacheco", "Patel",
    "Perez", "Ramirez", "Ramos", "Reyes", "Rios", "Rivera", "Robinson", "Rodriguez", "Romero", "Ruiz",
    "Salazar", "Sanchez", "Sandoval", "Singh", "Smith", "Soto", "Thao", "Thomas", "Torres", "Valdez",
    "Vang", "Vargas", "Vasquez", "Vue", "Williams", "Xiong", "Yang", "Zamora", "Zepeda", "Zuniga",
)  # fmt: skip

SCHOOL_NAMES: tuple[str, ...] = (
    "Alder", "Birch Grove", "Cedar Park", "Clover", "Cottonwood", "Cypress", "Dogwood", "Elmwood", "Fig Garden",
    "Foothill", "Granite Ridge", "Harvest", "Juniper", "Kings Canyon", "Lakeview", "Laurel", "Madrone", "Magnolia",
    "Manzanita", "Maple", "Meadow", "Mesa Verde", "Mission Oak", "Olive", "Orange Blossom", "Palm", "Pine Ridge",
    "Poplar", "Quail Lake", "Raisin Valley", "Redwood", "Riverbend", "Sequoia", "Sierra Vista", "Sunnyside",
    "Sycamore", "Tamarack", "Valley Oak", "Vineyard", "Walnut", "Willow", "Yosemite",
)  # fmt: skip

SUBJECTS: tuple[str, ...] = ("Math", "English Language Arts", "Science", "History")
SUBJECT_SHORT: dict[str, str] = {"Math": "Math", "English Language Arts": "ELA", "Science": "Sci", "History": "Hist"}

POST_TEXTS: tuple[str, ...] = (
    "Can someone explain step 3 of the warm-up?",
    "Here is my answer for the exit question.",
    "I think the main idea is in the second paragraph.",
    "Does anyone have a different strategy for problem 4?",
    "Our group finished the lab table, please check it.",
    "I found a source about the Gold Rush for our project.",
    "What page are we reading for tomorrow?",
    "I used a number line and got the same thing.",
)
REPLY_TEXTS: tuple[str, ...] = (
    "I agree, and I would add the evidence from the text.",
    "I got a different answer, I think you flipped the fraction.",
    "Thanks, that helped!",
    "Try drawing a model first.",
    "Same question here.",
    "Good point, can you show your work?",
)
TEACHER_TEXTS: tuple[str, ...] = (
    "Good morning! Today's learning target is on the board.",
    "Remember to post one question about the reading before Friday.",
    "Great discussion yesterday, keep building on each other's ideas.",
    "Reminder: the assignment is due tomorrow.",
)
COMMUNITY_TEXTS: tuple[str, ...] = (
    "Tried the think-pair-share exit ticket today, here is how it went.",
    "How are you pacing unit 3? My classes need one more day.",
    "Sharing the Forms quiz I used for checking fractions understanding.",
    "Anyone want to co-plan the next formative check?",
    "My students loved the OneNote collaboration space for the lab write-up.",
    "Data from this week's quiz shows we need to reteach ratios.",
)
FEEDBACK_TEXTS: tuple[str, ...] = (
    "Nice work, check question 3 again.",
    "Great use of evidence.",
    "Show your steps next time.",
    "Good effort, see my comments in OneNote.",
)
